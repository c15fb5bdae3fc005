"""Checks at the API boundary, so that the training loop itself can trust its arrays.

Each check returns the argument in the form the library uses (a C-contiguous array of the
network's dtype, integer labels, ...) or raises a ``DeltapropError`` that names the argument,
what was expected, what was found and the fix.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import numpy as np

from .errors import DeltapropTypeError, ValidationError

DTYPES = ("float32", "float64")
SOFT_TARGET_TOLERANCE = 1e-3  # how far a row of cross-entropy targets may sum from 1
MAX_UNSEEN_CLASSES = 1000  # more classes than this must mostly appear among the labels


def check_dtype(dtype: object) -> np.dtype:
    """Return ``np.dtype("float32")`` or ``np.dtype("float64")``; refuse anything else."""
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise DeltapropTypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return resolved


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValidationError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _numeric(name: str, values: object) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        raise DeltapropTypeError(
            f"{name} must be a rectangular numeric array, got rows of different lengths or "
            f"mixed types: give every row of {name} the same number of numbers"
        ) from None
    if array.dtype.kind not in "biuf":
        raise DeltapropTypeError(
            f"{name} must be numeric, got dtype {array.dtype}: convert it with "
            f"np.asarray({name}, dtype=float) after removing non-numeric values"
        )
    return array


def check_inputs(X: object, n_in: int, dtype: np.dtype) -> np.ndarray:
    """Return ``X`` as a C-contiguous ``(N, n_in)`` array of ``dtype``.

    Refuses another rank or width, an empty batch and NaN/Inf.
    """
    array = _numeric("X", X)
    if array.ndim == 1 and array.size == n_in:
        raise ValidationError(
            f"X must have shape (N, {n_in}), got a 1-D array of {n_in} values: "
            "for one sample use X.reshape(1, -1)"
        )
    if array.ndim != 2:
        raise ValidationError(
            f"X must have shape (N, {n_in}), got shape {array.shape}: "
            "flatten each sample into one row, e.g. X.reshape(len(X), -1)"
        )
    if array.shape[1] != n_in:
        raise ValidationError(
            f"X has {array.shape[1]} features per row but the network's input layer takes "
            f"{n_in}: give X shape (N, {n_in})"
        )
    if array.shape[0] == 0:
        raise ValidationError("X is empty (0 samples): pass at least one sample")
    return _finite_cast("X", array, dtype, fix="remove or impute them")


def _finite_cast(name: str, array: np.ndarray, dtype: np.dtype, fix: str) -> np.ndarray:
    """``array`` as C-contiguous ``dtype``; refuses NaN/Inf and values beyond ``dtype``'s range."""
    if array.dtype.kind == "f" and not all_finite(array):
        raise ValidationError(f"{name} contains NaN or infinite values: {fix}")
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.ascontiguousarray(array, dtype=dtype)
    if cast is not array and not all_finite(cast):
        raise ValidationError(
            f"{name} holds values beyond the range of {np.dtype(dtype).name} "
            f"(±{np.finfo(dtype).max:.3g}): rescale {name} or use dtype='float64'"
        )
    return cast


def all_finite(array: np.ndarray) -> bool:
    """Whether every entry of a float array is finite.

    Σx² is finite only if every x is (squares cannot cancel an infinity or a NaN), and BLAS
    computes it in one pass without a boolean copy of the array; ``np.isfinite`` looks at the
    entries only when that sum overflows, or when the array is not contiguous (``np.vdot``
    would copy it).
    """
    if array.flags.c_contiguous or array.flags.f_contiguous:
        flat = array.reshape(-1, order="A")  # a view, in memory order
        if math.isfinite(np.vdot(flat, flat)):
            return True
    return bool(np.isfinite(array).all())


def check_targets(y: object, n_samples: int, n_out: int, loss: object, dtype: np.dtype):
    """Return targets in the form ``loss`` uses.

    ``y`` is class labels ``(N,)`` (integers ``0..n_out-1``; ``0/1`` for one sigmoid output)
    or targets ``(N, n_out)``. Cross-entropy keeps labels as ``int64 (N,)``; every other loss
    gets a ``(N, n_out)`` array of ``dtype`` (labels become one-hot rows).
    """
    array = _numeric("y", y)
    if array.ndim == 0 or array.ndim > 2:
        raise ValidationError(
            f"y must have shape (N,) (class labels) or (N, {n_out}) (one row per sample), "
            f"got shape {array.shape}"
        )
    if len(array) != n_samples:
        raise ValidationError(
            f"X has {n_samples} samples but y has {len(array)}: they must have the same length"
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValidationError("y contains NaN or infinite values: remove those samples")
    name = getattr(loss, "name", "")
    if array.ndim == 1 and (n_out > 1 or name in ("cross_entropy", "binary_cross_entropy")):
        labels = check_labels(array, n_classes=max(n_out, 2), single_output=n_out == 1)
        if name == "cross_entropy":
            return labels
        if n_out == 1:
            return labels.astype(dtype)[:, None]
        return np.eye(n_out, dtype=dtype)[labels]
    if array.ndim == 1:
        array = array[:, None]
    if array.shape[1] != n_out:
        hint = ": for class labels pass y.ravel(), shape (N,)" if array.shape[1] == 1 else ""
        raise ValidationError(
            f"y has {array.shape[1]} columns but the output layer has {n_out} units: "
            f"give y shape (N, {n_out}) (one-hot rows) or class labels of shape (N,){hint}"
        )
    if name == "binary_cross_entropy" and ((array < 0) | (array > 1)).any():
        raise ValidationError(
            f"binary_cross_entropy targets must lie in [0, 1], got values from {array.min()} "
            f"to {array.max()}: use 0/1 labels or probabilities"
        )
    if name == "cross_entropy":
        _check_distributions(array)
    return _finite_cast("y", array, dtype, fix="remove those samples")


def _check_distributions(targets: np.ndarray) -> None:
    """Refuse soft targets ``(N, n_out)`` for cross-entropy that are not probability rows:
    a negative entry, or a row whose sum is not 1 (within :data:`SOFT_TARGET_TOLERANCE`)."""
    negative = np.argwhere(targets < 0)
    if negative.size:
        row, column = negative[0]
        raise ValidationError(
            f"cross_entropy targets must be probabilities, but y[{row}, {column}] = "
            f"{targets[row, column]:g} is negative: give rows of probabilities summing to 1, or "
            "class labels of shape (N,)"
        )
    sums = targets.sum(axis=1, dtype=np.float64)
    wrong = np.flatnonzero(np.abs(sums - 1) > SOFT_TARGET_TOLERANCE)
    if wrong.size:
        raise ValidationError(
            f"cross_entropy targets must be probability rows summing to 1, but row {wrong[0]} "
            f"of y sums to {sums[wrong[0]]:.6g} ({wrong.size:,} rows do not): divide each row "
            "by its sum, or for several labels per sample use loss='binary_cross_entropy'"
        )


def check_labels(labels: np.ndarray, n_classes: int, single_output: bool = False) -> np.ndarray:
    """Return integer class labels ``(N,)`` as int64, all in ``0..n_classes-1``.

    ``single_output`` says the network has one sigmoid unit (labels 0 or 1), for the message.
    """
    layer = "one sigmoid output" if single_output else f"{n_classes} classes"
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        raise ValidationError(
            "y holds non-integer values but the network is a classifier: class labels must "
            "be integers 0..n_classes-1 (use a regression loss such as 'mse' for real targets)"
        )
    if labels.dtype.kind == "u" and labels.max() > np.iinfo(np.int64).max:
        raise ValidationError(
            f"y has labels up to {labels.max()} but the output layer has {layer}: "
            f"labels must be 0..{n_classes - 1}"
        )
    labels = labels.astype(np.int64)
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= n_classes:
        fix = "; subtract 1" if low >= 1 and high == n_classes else ""
        raise ValidationError(
            f"y has labels {low}..{high} but the output layer has {layer}: labels "
            f"must be 0..{n_classes - 1}{fix}"
        )
    return labels


def check_positive(name: str, value: object, integer: bool = False) -> float | int:
    """Return ``value`` if it is a finite number > 0 (an int when ``integer``)."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    expected = "a positive integer" if integer else "a finite number > 0"
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValidationError(f"{name} must be {expected}, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValidationError(f"{name} must be {expected}, got {value!r}")
    return int(value) if integer else float(value)


def parse_sizes(text: str | int, at_least: int = 0) -> list[int]:
    """Layer sizes written as text: ``"256,128"`` → ``[256, 128]``, ``64`` → ``[64]``.

    Spaces and empty parts are ignored (``"256, 128,"``), so ``""`` is no layer at all. Raises
    ``ValidationError`` unless every part is a positive integer and there are ``at_least``.
    """
    try:
        sizes = [int(part) for part in str(text).replace(" ", "").split(",") if part]
    except ValueError:
        sizes = []
    else:
        if len(sizes) >= at_least and all(size >= 1 for size in sizes):
            return sizes
    several = f"at least {at_least} " if at_least > 1 else ""
    raise ValidationError(
        f"expected {several}positive integers separated by commas, e.g. 256,128, got {text!r}"
    )


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` if it is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValidationError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_callbacks(callbacks: object) -> list:
    """Return ``callbacks`` as a list after checking each has the ``Callback`` methods."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, Sequence) or isinstance(callbacks, str):
        callbacks = [callbacks]
    for index, callback in enumerate(callbacks):
        hooks = ("on_train_begin", "on_epoch_end", "on_train_end")
        if not all(callable(getattr(callback, hook, None)) for hook in hooks):
            raise DeltapropTypeError(
                f"callbacks[{index}] must be a deltaprop.Callback (with on_train_begin, "
                f"on_epoch_end, on_train_end), got {type(callback).__name__}: subclass Callback"
            )
    return list(callbacks)


def construct(kind: str, cls: type, config: dict) -> object:
    """Return ``cls(**config)``, turning an unknown or missing argument into a clear error.

    ``kind`` names what is built (``"optimizer 'adam'"``) for the message.
    """
    if not isinstance(config, dict):
        raise DeltapropTypeError(
            f"{kind} takes its arguments as a dict of names to values, got {type(config).__name__}"
        )
    signature = inspect.signature(cls)
    try:
        signature.bind(**config)
    except TypeError as error:
        accepted = [name for name in signature.parameters if name not in ("self",)]
        raise DeltapropTypeError(
            f"{kind} {error}: it accepts {', '.join(accepted) or 'no arguments'}"
        ) from None
    return cls(**config)


def declared_nbytes(shape: Sequence[int], itemsize: int, limit: int) -> int:
    """Bytes of an array of ``shape`` as a file header declares it, or ``limit + 1`` as soon as
    that exceeds ``limit`` (the bytes the file holds): a forged shape is refused before it can
    make a gigantic integer or allocation."""
    if 0 in shape:
        return 0
    total = itemsize
    for n in shape:
        total *= n
        if total > limit:
            return limit + 1
    return total


def check_class_count(labels: np.ndarray, what: str) -> int:
    """The number of classes that integer ``labels`` ask for: the largest label plus one.

    Refuses a count far beyond the labels seen (label 100000000 among a few others would build
    an output layer of 100,000,001 units): class labels must be indices 0..K-1.
    """
    if not labels.size:
        return 1
    n_classes = int(labels.max()) + 1
    distinct = len(np.unique(labels))
    if n_classes > MAX_UNSEEN_CLASSES and n_classes > 10 * distinct:
        raise ValidationError(
            f"{what} has a label {n_classes - 1}, which asks for {n_classes:,} classes (output "
            f"units), but only {distinct} distinct labels: class labels must be 0..K-1; "
            "renumber them, e.g. with np.unique(y, return_inverse=True)"
        )
    return n_classes


def check_split(x: np.ndarray, y: np.ndarray, what: str) -> None:
    """Refuse a split of a data set (``what`` names it) that cannot be evaluated: no samples,
    labels of another length, or NaN or infinite values."""
    if len(x) == 0:
        raise ValidationError(
            f"{what} is empty (0 samples): give a data set with more rows or its own test part"
        )
    if len(y) != len(x):
        raise ValidationError(f"{what} has {len(x)} samples but {len(y)} labels")
    if x.dtype.kind == "f" and not all_finite(x):
        raise ValidationError(
            f"{what} holds NaN or infinite values (scaled by the training split's range, values "
            "far outside it overflow): fix or rescale the data"
        )


def check_test_split(x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, what: str):
    """Refuse, before training, a test split that could not be evaluated afterwards: empty,
    holding NaN or infinite values, or of another width than the training split."""
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValidationError(
            f"the test split of {what} has samples of shape {x_test.shape[1:]} but the training "
            f"split {x_train.shape[1:]}: both splits need the same features"
        )
    check_split(x_test, y_test, f"the test split of {what}")
