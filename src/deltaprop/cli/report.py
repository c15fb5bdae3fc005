"""``deltaprop report``: one self-contained HTML page about a trained model."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from ..validation import check_split
from . import UsageError
from .common import add_parser, check_outputs

EXAMPLES = [
    "deltaprop report mnist.safetensors --data mnist --out report.html",
    "deltaprop report model.safetensors --data digits --split train --limit 500",
    "deltaprop report model.safetensors            (architecture and training history only)",
]


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "report",
        "write an HTML report: architecture, training history, evaluation",
        textwrap.fill(
            "Write one HTML page about MODEL: its architecture, the training history kept in "
            "the model file (loss and accuracy curves, gradient flow, first-layer weights), "
            "its evaluation on --data (accuracy, per-class precision and recall, confusion "
            "matrix) and misclassified examples. Images are embedded: the page needs no "
            "network to display."
        ),
        EXAMPLES,
    )
    parser.add_argument("model", metavar="MODEL", help="a model file")
    parser.add_argument("--data", help="data set name (mnist, digits, ...) or data file")
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--limit", type=int, help="evaluate on the first N samples only")
    parser.add_argument(
        "--out", metavar="FILE", help="the HTML file to write (default: MODEL with .html)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..io import load
    from ..report import write_report

    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    out = Path(args.out) if args.out else Path(args.model).with_suffix(".html")
    check_outputs({"MODEL": args.model, "--data": args.data}, {"--out": out})
    network = load(args.model)
    X = y = data_name = None
    if args.data is not None:
        from ..datasets import load as load_data

        train, test = load_data(args.data)
        X, y = train if args.split == "train" else test
        X, y = X[: args.limit], y[: args.limit]
        check_split(X, y, f"the {args.split} split of --data {args.data}")
        data_name = f"{args.data}, {args.split} split"
    write_report(
        network, out, X, y, title=f"deltaprop report: {Path(args.model).name}", data_name=data_name
    )
    print(f"wrote {out}", file=sys.stderr)
    return 0
