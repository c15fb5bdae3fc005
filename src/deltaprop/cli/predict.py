"""``deltaprop predict``: classify the samples of a .npy or .csv file, or a picture of a digit."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

import numpy as np

from ..errors import DataError, DataNotFoundError, DeltapropError
from .common import (
    add_parser,
    check_outputs,
    check_width,
    finite_outputs,
    load_model,
    write_text,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

EXAMPLES = [
    "deltaprop predict mnist.safetensors digit.png",
    "deltaprop predict mnist.safetensors samples.npy --output predictions.csv",
    "deltaprop predict mnist.safetensors rows.csv --output predictions.json",
]


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "predict",
        "predict the class of samples or of a digit image",
        "Predict with a saved model. INPUT is a .npy array (one sample, or one per row),\n"
        "a .csv file (one sample per row, no label column, an optional header line), or an\n"
        "image (PNG, JPEG, ...) of one digit, converted as MNIST was: grayscale, white on\n"
        "black, fitted into 28x28 (or the model's square input size), values in [0, 1].\n"
        "uint8 arrays are divided by 255.",
        EXAMPLES,
    )
    parser.add_argument("model", metavar="MODEL", help="a .safetensors model file")
    parser.add_argument("input", metavar="INPUT", help=".npy, .csv or an image file")
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="also write the predictions to FILE.csv or FILE.json (atomically)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix.lower() not in (".csv", ".json"):
        from . import UsageError

        raise UsageError(f"--output {output}: the file name must end in .csv or .json")
    check_outputs({"MODEL": args.model, "INPUT": args.input}, {"--output": output})
    network = load_model(args.model)
    X = read_inputs(Path(args.input), network.n_in)
    check_width(network, X, str(args.input))
    rows = prediction_rows(network, X)
    print(format_rows(rows, network.is_classifier))
    if output is not None:
        text = to_json(rows) if output.suffix.lower() == ".json" else to_csv(rows)
        write_text(output, text)
    return 0


def read_inputs(path: Path, n_in: int) -> np.ndarray:
    """The samples in ``path`` as rows ``(N, n_in)`` (images and arrays of images flattened)."""
    from ..files import check_regular

    if not path.exists():
        raise DataNotFoundError(f"input {path} does not exist")
    check_regular(path, "file of samples")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        from ..images import image_to_input

        return image_to_input(path, n_in)[None, :]
    if suffix == ".npy":
        return as_rows(read_npy(path), n_in, path)
    if suffix == ".csv":
        from ..datafiles import read_table

        return read_table(path, header=None)[0]
    raise DataError(
        f"{path}: unknown input type {suffix or '(none)'}: give a .npy, .csv or image file"
    )


def read_npy(path: Path) -> np.ndarray:
    try:
        # Mapped, not read: a header declaring more than the file holds is refused before
        # anything is allocated, and the copy below holds only what is really there.
        array = np.array(np.load(path, mmap_mode="r", allow_pickle=False))
    except (ValueError, EOFError) as error:
        raise DataError(f"{path} is not a numeric .npy array ({error})") from None
    if array.dtype.kind not in "biuf":
        raise DataError(f"{path} holds {array.dtype} values: it must be numeric")
    if array.dtype == np.uint8:  # raw pixels, as MNIST's files hold them
        return array.astype(np.float32) / 255
    return array


def as_rows(array: np.ndarray, n_in: int, path: Path) -> np.ndarray:
    """One sample ``(n_in,)`` or ``(h, w)`` with h·w = n_in, or a stack of them, as rows."""
    if array.size == n_in:
        return array.reshape(1, n_in)
    if array.ndim >= 2 and int(np.prod(array.shape[1:])) == n_in:
        return array.reshape(len(array), n_in)
    raise DataError(
        f"{path} has shape {array.shape} but the model takes samples of {n_in} values: give "
        f"an array of shape ({n_in},) or (N, {n_in})"
    )


def prediction_rows(network, X: np.ndarray) -> list[dict]:
    """One dict per sample: its class and probabilities (classifiers) or its outputs."""
    output = finite_outputs(network, X, "these inputs").astype(np.float64)
    if not network.is_classifier:
        return [{"sample": i, "outputs": row.tolist()} for i, row in enumerate(output)]
    if network.n_out == 1:  # one sigmoid unit: P(class 1)
        output = np.column_stack([1 - output[:, 0], output[:, 0]])
    return [
        {"sample": i, "class": int(row.argmax()), "probabilities": row.tolist()}
        for i, row in enumerate(output)
    ]


def format_rows(rows: list[dict], classifier: bool) -> str:
    if not classifier:
        return "\n".join(
            f"sample {row['sample']}: " + " ".join(f"{v:.6g}" for v in row["outputs"])
            for row in rows
        )
    if len(rows) == 1:
        row = rows[0]
        lines = [f"class {row['class']} (probability {max(row['probabilities']):.2%})"]
        lines += [
            f"  {label}: {p:7.2%}" + ("  <" if label == row["class"] else "")
            for label, p in enumerate(row["probabilities"])
        ]
        return "\n".join(lines)
    return "\n".join(
        f"sample {row['sample']}: class {row['class']} ({max(row['probabilities']):.2%})"
        for row in rows
    )


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if "class" in rows[0]:
        n = len(rows[0]["probabilities"])
        writer.writerow(["sample", "class", *(f"p{k}" for k in range(n))])
        writer.writerows([r["sample"], r["class"], *map(repr, r["probabilities"])] for r in rows)
    else:
        n = len(rows[0]["outputs"])
        writer.writerow(["sample", *(f"output{k}" for k in range(n))])
        writer.writerows([r["sample"], *map(repr, r["outputs"])] for r in rows)
    return buffer.getvalue()


def to_json(rows: list[dict]) -> str:
    try:
        return json.dumps({"predictions": rows}, indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise DeltapropError("the model produced NaN or infinite outputs") from None
