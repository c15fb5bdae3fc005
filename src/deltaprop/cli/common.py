"""What the subcommands share: parser setup, argument types, data, models and output files."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from ..errors import DeltapropError, DivergenceError, MissingDependencyError, ValidationError
from ..losses import LOSSES
from ..suggest import closest
from ..validation import parse_sizes
from . import UsageError


def add_parser(subparsers, name: str, summary: str, description: str, examples: list[str]):
    """Add a subcommand parser whose ``--help`` ends with ``examples`` (one command a line)."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


# ------------------------------------------------------------------ argument types
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = _float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def int_list(text: str) -> list[int]:
    """``"256,128"`` → ``[256, 128]`` (``validation.parse_sizes``, at least one)."""
    try:
        return parse_sizes(text, at_least=1)
    except ValidationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def choice(names) -> callable:
    """An argument type accepting one of ``names`` (``-`` for ``_``), with a did-you-mean."""
    names = list(names)

    def parse(text: str) -> str:
        key = text.lower().replace("-", "_")
        if key not in names:
            raise argparse.ArgumentTypeError(
                f"unknown {text!r}{closest(key, names)}; choose one of {', '.join(names)}"
            )
        return key

    parse.__name__ = "name"
    return parse


# ------------------------------------------------------------------ data and models
def load_data(source: str):
    """``(x_train, y_train), (x_test, y_test)`` of a data set name or a path."""
    try:
        from .. import datasets
    except ModuleNotFoundError as error:  # pragma: no cover - datasets ships with deltaprop
        raise DeltapropError(
            f"--data needs deltaprop.datasets, which is missing: {error}"
        ) from None
    return datasets.load(source)


def load_model(path: str):
    from ..io import load

    return load(path)


def check_width(network, X: np.ndarray, what: str) -> None:
    """Refuse inputs whose width is not the network's input size, saying which is which."""
    if X.ndim != 2 or X.shape[1] != network.n_in:
        width = X.shape[1] if X.ndim == 2 else f"shape {X.shape}"
        raise DeltapropError(
            f"{what} has {width} features per sample but the model takes {network.n_in} "
            f"({'-'.join(map(str, network.sizes))}): use data of the kind it was trained on"
        )


def output_activation(loss: str) -> str:
    """The output activation ``loss`` (a name in ``LOSSES``) needs, else identity."""
    needed = LOSSES[loss].output_activation
    return needed.name if needed is not None else "identity"


def n_outputs(loss: str, labels: np.ndarray, what: str = "the data") -> int:
    """Output units for integer ``labels``: one per class, one sigmoid for 0/1 labels."""
    from ..validation import check_class_count

    n_classes = check_class_count(labels, what)
    if loss == "binary_cross_entropy":
        if n_classes > 2:
            raise UsageError(
                f"--loss binary_cross_entropy needs labels 0 and 1, the data has {n_classes} "
                "classes: use --loss cross_entropy"
            )
        return 1
    return max(n_classes, 2)


# ------------------------------------------------------------------ output
def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (the old file survives any failure)."""
    from ..io import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


def print_json(document) -> None:
    """Print ``document`` as one JSON line, whole or not at all: it is encoded before anything
    is written, and NaN or infinite numbers (not JSON) are refused."""
    try:
        text = json.dumps(document, allow_nan=False)
    except ValueError:
        raise DeltapropError(
            "the results hold NaN or infinite numbers, which JSON cannot represent: the model's "
            "outputs overflowed (inputs far larger than the training data, or diverged weights)"
        ) from None
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def plots_module(directory: str | Path):
    """``deltaprop.plots``, imported only when ``--plots`` asks for it, after checking that
    matplotlib is installed and ``directory`` can be a directory, so that nothing is trained
    or evaluated in vain."""
    import importlib.util

    from ..files import check_writable_directory

    if importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError("--plots needs matplotlib: pip install 'deltaprop[plots]'")
    if Path(directory).exists() and not Path(directory).is_dir():
        raise UsageError(f"--plots {directory} is a file: give a directory")
    check_writable_directory(directory, "--plots")
    from .. import plots

    return plots


def check_outputs(inputs, outputs, may_replace: tuple[tuple[str, str], ...] = ()) -> None:
    """Before any work: refuse an output that is the same file as an input (by any path,
    symbolic or hard link) or as another output, and one that cannot be written there.

    ``inputs`` and ``outputs`` map a flag or argument name to the path given, or None (a dict,
    or ``(name, path)`` pairs where a flag repeats). ``may_replace`` lists the
    ``(output, input)`` pairs that may be one file on purpose (``--checkpoint`` replacing the
    ``--resume`` checkpoint it continues).
    """
    from ..files import check_writable, same_file

    inputs = [(n, p) for n, p in _pairs(inputs) if p is not None and Path(p).exists()]
    given = [(name, path) for name, path in _pairs(outputs) if path is not None]
    for name, path in given:
        for source, read in inputs:
            if (name, source) not in may_replace and same_file(path, read):
                raise UsageError(
                    f"{name} {path} is the same file as {source} {read}: writing it would "
                    f"destroy the input; give {name} another file name"
                )
    for index, (name, path) in enumerate(given):
        for other, other_path in given[index + 1 :]:
            if same_file(path, other_path):
                both = (
                    f"both are {path}"
                    if str(path) == str(other_path)
                    else (f"{path} and {other_path} are one file")
                )
                raise UsageError(f"{name} and {other} must be different files: {both}")
    for name, path in given:
        check_writable(path, name)


def _pairs(paths) -> list[tuple[str, str | Path | None]]:
    return list(paths.items()) if isinstance(paths, dict) else list(paths)


def check_finite_results(results: dict, what: str) -> None:
    """Refuse evaluation results (loss, accuracy, ...) that are NaN or infinite."""
    bad = {key: value for key, value in results.items() if not math.isfinite(value)}
    if bad:
        shown = ", ".join(f"{key} {value}" for key, value in bad.items())
        raise DivergenceError(
            f"the network's {shown} on {what} is not a number: its weights overflowed in the "
            "last steps; nothing was saved: train again with a lower --lr or with --clip-norm"
        )


def finite_outputs(network, X: np.ndarray, what: str) -> np.ndarray:
    """The network's outputs ``(N, n_out)`` for ``X``, refused when any is NaN or infinite
    (an overflow), so that they are never printed or written as results."""
    with np.errstate(over="ignore", invalid="ignore"):  # the refusal below says it once
        output = network.forward(X)
    bad = np.flatnonzero(~np.isfinite(output).all(axis=1))
    if bad.size:
        raise DeltapropError(
            f"the model's outputs for {what} are NaN or infinite ({bad.size:,} of {len(output):,} "
            f"samples, the first is sample {bad[0]}): its inputs are far outside the range it "
            "was trained on, or its weights overflow"
        )
    return output
