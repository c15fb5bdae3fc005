"""What the subcommands share: parser setup, argument types, data, models and output files."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from ..errors import DeltapropError, MissingDependencyError, ValidationError
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


def n_outputs(loss: str, labels: np.ndarray) -> int:
    """Output units for integer ``labels``: one per class, one sigmoid for 0/1 labels."""
    n_classes = int(labels.max()) + 1 if labels.size else 1
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
    json.dump(document, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


def plots_module(directory: str | Path):
    """``deltaprop.plots``, imported only when ``--plots`` asks for it, after checking that
    matplotlib is installed and ``directory`` can be a directory, so that nothing is trained
    or evaluated in vain."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise MissingDependencyError("--plots needs matplotlib: pip install 'deltaprop[plots]'")
    if Path(directory).exists() and not Path(directory).is_dir():
        raise UsageError(f"--plots {directory} is a file: give a directory")
    from .. import plots

    return plots


def check_directory_for(path: str | Path, option: str) -> None:
    """Fail before any work when ``path`` cannot be written because its directory is missing."""
    directory = Path(path).parent
    if not directory.is_dir():
        raise DeltapropError(f"{option} {path}: directory {directory} does not exist")
    if Path(path).is_dir():
        raise DeltapropError(f"{option} {path} is a directory: give a file name")
