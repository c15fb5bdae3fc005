"""A user's own CSV as a playground data set, within caps, or one line saying what is wrong.

The file has a header row, numeric feature columns and one label or target column: the column
named ``label``, ``class``, ``target`` or ``y`` if there is one, else the last. Whole-number
labels with at most ``MAX_CLASSES`` distinct values make a classification set (mapped to
0..k-1 in sorted order); anything else, or a column named ``target``, is a regression target.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from ..errors import DataError
from .datasets import Dataset

MAX_BYTES = 1_000_000
MAX_ROWS = 5_000
MAX_COLUMNS = 16  # features and label together
MIN_ROWS = 10
MAX_CLASSES = 10
LABEL_NAMES = ("label", "class", "target", "y")


def parse_csv(
    text: str, name: str = "upload.csv", train_ratio: float = 0.5, seed: int = 0
) -> Dataset:
    """Read ``text`` (the file's contents) into a ``Dataset`` split ``train_ratio`` : rest.

    Raises ``DataError`` with the problem and its fix (row and column named) for a file that is
    too large, ragged, non-numeric, non-finite, too small or has a single class.
    """
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise DataError(
            f"{name} is {size:,} bytes; the playground takes CSV files up to {MAX_BYTES:,} bytes"
        )
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{name} is empty: it needs a header row and at least {MIN_ROWS} rows")
    header, body = [cell.strip() for cell in rows[0]], rows[1:]
    if len(header) > MAX_COLUMNS:
        raise DataError(
            f"{name} has {len(header)} columns; the playground takes at most {MAX_COLUMNS}"
        )
    if len(header) < 3:
        raise DataError(
            f"{name} has {len(header)} column(s): it needs two or more numeric feature columns "
            "and a label column, with a header row"
        )
    if all(_is_number(cell) for cell in header):
        raise DataError(f"{name} has no header row: add one naming the columns (e.g. x1,x2,label)")
    if len(body) > MAX_ROWS:
        raise DataError(f"{name} has {len(body):,} rows; the playground takes at most {MAX_ROWS:,}")
    if len(body) < MIN_ROWS:
        raise DataError(f"{name} has {len(body)} data rows; it needs at least {MIN_ROWS}")
    values = np.empty((len(body), len(header)))
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{name} row {number} has {len(row)} fields, the header has {len(header)}: "
                "every row needs one value per column"
            )
        for column, cell in enumerate(row):
            values[number - 2, column] = _number(name, cell, number, header[column])
    label = _label_column(header)
    features = [index for index in range(len(header)) if index != label]
    x, y = values[:, features], values[:, label]
    n_classes, class_names = 0, None
    if header[label].lower() != "target" and np.all(y == np.round(y)):
        classes = np.unique(y)
        if len(classes) < 2:
            raise DataError(
                f"{name}: the label column {header[label]!r} holds one class only "
                f"({classes[0]:g}); a classifier needs at least two"
            )
        if len(classes) <= MAX_CLASSES:
            n_classes, class_names = len(classes), [f"{c:g}" for c in classes]
            y = np.searchsorted(classes, y).astype(np.int64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_train = min(max(round(len(x) * train_ratio), 1), len(x) - 1)
    train, test = order[:n_train], order[n_train:]
    return Dataset(
        name="csv",
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        columns=[header[index] for index in features],
        n_classes=n_classes,
        bounds=view_bounds(x, (0, 1)),
        class_names=class_names,
    )


def view_bounds(x: np.ndarray, shown: tuple[int, int]) -> tuple[float, float, float, float]:
    """The plane that shows columns ``shown`` of ``x (N, d)``: their range plus a 10% margin."""
    bounds = []
    for column in shown:
        low, high = float(x[:, column].min()), float(x[:, column].max())
        margin = 0.1 * (high - low) or 1.0
        bounds += [low - margin, high + margin]
    return tuple(bounds)


def _label_column(header: list[str]) -> int:
    for index, column in enumerate(header):
        if column.lower() in LABEL_NAMES:
            return index
    return len(header) - 1


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(name: str, cell: str, row: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DataError(
            f"{name} row {row}, column {column!r} holds {cell.strip()[:20]!r}, not a number: "
            "every column must be numeric (encode text labels as 0, 1, ...)"
        ) from None
    if not math.isfinite(value):
        raise DataError(
            f"{name} row {row}, column {column!r} is {cell.strip()}: remove or fill "
            "missing and infinite values"
        )
    return value
