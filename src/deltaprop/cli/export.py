"""``deltaprop export``: write a model file as an ONNX model."""

from __future__ import annotations

import argparse

from .common import add_parser

EXAMPLES = [
    "deltaprop export mnist.safetensors mnist.onnx",
    "deltaprop export mnist.safetensors mnist.onnx --opset 20 --dtype float32",
]


def register(subparsers) -> None:
    from ..onnx import DEFAULT_OPSET, MIN_OPSET

    parser = add_parser(
        subparsers,
        "export",
        "write a model file as an ONNX model",
        (
            "Write a deltaprop model file as an ONNX model (standard operators, dynamic batch "
            f"size, input 'input' and output 'output'). Opsets {MIN_OPSET} and newer; GELU is "
            "the Gelu operator from opset 20 on, composed from Erf below."
        ),
        EXAMPLES,
    )
    parser.add_argument("model", metavar="MODEL", help="a .safetensors model or checkpoint file")
    parser.add_argument("output", metavar="OUTPUT", help="the .onnx file to write")
    parser.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"ONNX opset of the default domain (default {DEFAULT_OPSET})",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        help="element type of the ONNX model (default: the model file's)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..io import load
    from ..onnx import export
    from .common import check_outputs

    check_outputs({"MODEL": args.model}, {"OUTPUT": args.output})
    network = load(args.model)
    export(network, args.output, opset=args.opset, dtype=args.dtype)
    dtype = args.dtype or network.dtype.name
    print(
        f"wrote {args.output}: ONNX opset {args.opset}, input 'input' (N, {network.n_in}) "
        f"{dtype}, output 'output' (N, {network.n_out})"
    )
    return 0
