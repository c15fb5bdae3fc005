"""Classification scores from labels: the confusion matrix, per-class precision and recall.

A network classifies when its loss is a classification loss, or when its targets are class
labels: the seed trains MNIST with sigmoid outputs and mean squared error on one-hot rows, and
its prediction is still the output with the largest activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network
from .validation import check_inputs, check_labels


def is_classification(network: Network, y: np.ndarray) -> bool:
    """True when ``y`` (labels ``(N,)`` or rows ``(N, n_out)``) holds classes for ``network``."""
    y = np.asarray(y)
    if network.is_classifier:
        return True
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        return bool(np.all(y == np.round(y))) and (network.n_out > 1 or np.isin(y, (0, 1)).all())
    return bool(np.isin(y, (0, 1)).all() and np.all(y.sum(axis=1) == 1))


def true_labels(y: np.ndarray) -> np.ndarray:
    """Class labels ``(N,)`` from labels ``(N,)``, one-hot rows ``(N, k)`` or 0/1 ``(N, 1)``."""
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1) if y.shape[1] > 1 else (y[:, 0] >= 0.5)
    return y.astype(np.int64)


def predicted_labels(network: Network, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The class each row of ``X (N, n_in)`` is given: the largest output, or output ≥ 0.5."""
    X = check_inputs(X, network.n_in, network.dtype)
    outputs = np.concatenate(
        [network.forward(X[start : start + batch_size]) for start in range(0, len(X), batch_size)]
    )
    if network.n_out == 1:
        return (outputs[:, 0] >= 0.5).astype(np.int64)
    return outputs.argmax(axis=1)


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None
) -> np.ndarray:
    """``matrix[i, j]``: how many samples of class i were predicted as class j.

    ``y_true`` and ``y_pred`` are labels ``(N,)``; the result is ``(n_classes, n_classes)``,
    ``n_classes`` defaulting to the largest label plus one.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    y_true = check_labels(y_true, n_classes)
    y_pred = check_labels(y_pred, n_classes)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


@dataclass
class ClassScores:
    """Per-class precision, recall, F1 and support (true samples of the class), each ``(k,)``,
    and the overall accuracy."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    accuracy: float


def class_scores(matrix: np.ndarray) -> ClassScores:
    """Precision, recall and F1 of every class from a confusion ``matrix (k, k)``.

    A class never predicted has precision 0; a class absent from the data has recall 0.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    correct = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros_like(correct), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    accuracy = float(correct.sum() / max(matrix.sum(), 1))
    return ClassScores(precision, recall, f1, support.astype(np.int64), accuracy)
