"""``deltaprop evaluate``: a saved model's loss, accuracy and per-class results on a data set."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..validation import check_split
from .common import (
    add_parser,
    check_width,
    choice,
    finite_outputs,
    load_data,
    load_model,
    plots_module,
    positive_int,
    print_json,
)

EXAMPLES = [
    "deltaprop evaluate mnist.safetensors --data mnist",
    "deltaprop evaluate mnist.safetensors --data mnist --split train --limit 5000",
    "deltaprop evaluate model.safetensors --data my_data.npz --json",
    "deltaprop evaluate mnist.safetensors --data mnist --plots plots/",
]


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "evaluate",
        "loss, accuracy, per-class precision/recall and confusion matrix of a model",
        "Evaluate a saved model on the test (or training) part of a data set: loss, accuracy,\n"
        "precision and recall of each class, and the confusion matrix (rows: true class,\n"
        "columns: predicted class).",
        EXAMPLES,
    )
    parser.add_argument("model", metavar="MODEL", help="a .safetensors model file")
    parser.add_argument(
        "--data",
        required=True,
        metavar="NAME|PATH",
        help="mnist, fashion_mnist, digits, or a path: .npz, .csv or a directory of IDX files",
    )
    parser.add_argument(
        "--split",
        type=choice(["test", "train"]),
        default="test",
        help="which part of the data (default: test)",
    )
    parser.add_argument("--limit", type=positive_int, metavar="N", help="the first N samples only")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--plots", metavar="DIR", help="write evaluation plots into DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics import classification_report

    plots = plots_module(args.plots) if args.plots else None
    network = load_model(args.model)
    train, test = load_data(args.data)
    X, y = test if args.split == "test" else train
    if args.limit:
        X, y = X[: args.limit], y[: args.limit]
    check_split(X, y, f"the {args.split} split of --data {args.data}")
    check_width(network, X, f"--data {args.data}")
    finite_outputs(network, X, f"--data {args.data}")
    if network.is_classifier:
        results = classification_report(network, X, y)
    else:
        results = network.evaluate(X, y)
    results = {
        "model": args.model,
        "data": args.data,
        "split": args.split,
        "samples": len(X),
        **results,
    }
    if args.json:
        print_json(results)
    else:
        print(format_results(results))
    if plots is not None:
        Path(args.plots).mkdir(parents=True, exist_ok=True)
        plots.write_evaluation_plots(network, X, y, Path(args.plots))
    return 0


def format_results(results: dict) -> str:
    lines = [
        f"{results['model']} on {results['samples']:,} {results['split']} samples of "
        f"{results['data']}",
        f"loss      {results['loss']:.4f}",
    ]
    if "accuracy" in results:
        lines.append(f"accuracy  {results['accuracy']:.2%}")
    if "confusion_matrix" in results:
        lines += ["", *per_class_table(results), "", *confusion_table(results)]
    return "\n".join(lines)


def per_class_table(results: dict) -> list[str]:
    lines = [f"{'class':>5}  {'precision':>9}  {'recall':>7}  {'support':>7}"]
    for label, (precision, recall, support) in enumerate(
        zip(results["precision"], results["recall"], results["support"])
    ):
        lines.append(f"{label:>5}  {precision:>9.2%}  {recall:>7.2%}  {support:>7}")
    return lines


def confusion_table(results: dict) -> list[str]:
    matrix = np.array(results["confusion_matrix"])
    width = max(len(str(matrix.max())), len(str(len(matrix) - 1)), 3)
    header = " " * 7 + " ".join(f"{j:>{width}}" for j in range(len(matrix)))
    lines = ["confusion matrix (rows: true class, columns: predicted class)", header]
    for i, row in enumerate(matrix):
        lines.append(f"{i:>5}  " + " ".join(f"{count:>{width}}" for count in row))
    return lines
