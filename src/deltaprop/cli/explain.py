"""``deltaprop explain``: one step of backpropagation, printed with the network's own numbers."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import numpy as np

from ..errors import ValidationError
from ..validation import parse_sizes
from . import UsageError
from .common import add_parser, check_outputs, positive_int

EXAMPLES = [
    "deltaprop explain --layers 2,3,2 --activation sigmoid --loss mse --seed 0",
    "deltaprop explain --layers 4,5,3 --activation tanh --loss cross_entropy --batch 2",
    "deltaprop explain mnist.safetensors --data mnist --sample 7 --markdown step.md",
]
NEW_NETWORK_DEFAULTS = {"layers": "2,3,2", "activation": "sigmoid", "loss": "mse"}


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "explain",
        "show one step of backpropagation with the network's own numbers",
        textwrap.fill(
            "Walk a sample (or a small batch) through a network in the seed's notation: z^l, a^l, "
            "the loss, every δ^l, ∂L/∂W^l and ∂L/∂b^l next to their central-difference "
            "estimates, then one SGD step and the loss before and after. Without MODEL a new "
            "network is built from --layers; without --data the sample is random."
        ),
        EXAMPLES,
    )
    parser.add_argument("model", nargs="?", metavar="MODEL", help="a model file to explain")
    new = parser.add_argument_group("a new random network (without MODEL)")
    new.add_argument("--layers", help="all layer sizes, input to output (default 2,3,2)")
    new.add_argument("--activation", help="activation of every layer (default sigmoid)")
    new.add_argument(
        "--output",
        help="output activation (default: softmax for cross_entropy, else --activation)",
    )
    new.add_argument("--loss", help="loss (default mse, as in the seed)")
    new.add_argument("--dtype", default="float64", help="float32 or float64 (default float64)")
    new.add_argument("--seed", type=int, default=0, help="seed of the weights and the sample")
    sample = parser.add_argument_group("the sample")
    sample.add_argument("--data", help="data set name (mnist, digits, ...) or data file")
    sample.add_argument("--split", choices=("train", "test"), default="test")
    sample.add_argument("--sample", type=int, default=0, help="index of the (first) sample")
    sample.add_argument("--batch", type=int, default=1, help="number of samples (default 1)")
    parser.add_argument("--lr", type=float, default=0.1, help="η of the SGD step (default 0.1)")
    parser.add_argument(
        "--max-checks",
        type=positive_int,
        default=100,
        help="central differences per weight matrix or bias at most (default 100)",
    )
    parser.add_argument("--markdown", metavar="FILE", help="also write a Markdown document")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..explain import explain, format_markdown, format_text
    from ..io import atomic_write_bytes

    check_outputs({"MODEL": args.model, "--data": args.data}, {"--markdown": args.markdown})
    network = _network(args)
    x, y = _sample(args, network)
    record = explain(network, x, y, lr=args.lr, max_checks=args.max_checks, seed=args.seed)
    sys.stdout.write(format_text(record))
    if args.markdown:
        atomic_write_bytes(Path(args.markdown), format_markdown(record).encode("utf-8"))
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


def _network(args: argparse.Namespace):
    from ..network import Network

    if args.model is not None:
        given = [f"--{name}" for name in NEW_NETWORK_DEFAULTS if getattr(args, name) is not None]
        if args.output is not None:
            given.append("--output")
        if given:
            raise UsageError(
                f"{', '.join(given)} describe a new network but MODEL {args.model} was given: "
                "drop one of them"
            )
        from ..io import load

        return load(args.model)
    for name, default in NEW_NETWORK_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    sizes = _sizes(args.layers)
    output = args.output
    if output is None:
        output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(
            args.loss.replace("-", "_"), args.activation
        )
    return Network.from_sizes(
        sizes,
        hidden=args.activation,
        output=output,
        loss=args.loss,
        dtype=args.dtype,
        seed=args.seed,
    )


def _sizes(text: str) -> list[int]:
    try:
        return parse_sizes(text, at_least=2)
    except ValidationError:
        raise UsageError(
            f"--layers must list at least two positive sizes, input to output, e.g. 2,3,2; "
            f"got {text!r}"
        ) from None


def _sample(args: argparse.Namespace, network) -> tuple[np.ndarray, np.ndarray]:
    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {args.batch}")
    if args.data is None:
        rng = np.random.default_rng(args.seed)
        x = rng.random((args.batch, network.n_in))
        y = rng.integers(0, max(network.n_out, 2), size=args.batch)
        return x, y
    from ..datasets import load

    train, test = load(args.data)
    X, y = train if args.split == "train" else test
    if not 0 <= args.sample <= len(X) - args.batch:
        raise UsageError(
            f"--sample {args.sample} with --batch {args.batch} runs past the {args.split} split "
            f"of {args.data} ({len(X):,} samples): choose --sample from 0 to "
            f"{len(X) - args.batch}"
        )
    rows = slice(args.sample, args.sample + args.batch)
    return X[rows], y[rows]
