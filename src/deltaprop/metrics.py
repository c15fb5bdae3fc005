"""How well a classifier does, class by class: the confusion matrix, precision and recall.

``matrix[i, j]`` counts the samples of true class i predicted as class j. Precision of class j
is the fraction of samples predicted as j that are j (column j); recall of class i the fraction
of samples of class i predicted as i (row i). A class never predicted (or never present) has
precision (or recall) 0, as scikit-learn reports with ``zero_division=0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import ValidationError
from .validation import check_labels

if TYPE_CHECKING:
    from .network import Network


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Return the ``(n_classes, n_classes)`` int64 counts of (true, predicted) label pairs.

    Parameters
    ----------
    y_true, y_pred : ndarray, shape (N,)
        Integer labels in ``0..n_classes-1``.
    """
    y_true = check_labels(np.asarray(y_true), n_classes)
    y_pred = check_labels(np.asarray(y_pred), n_classes)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValidationError(
            f"y_true and y_pred must be label vectors of one length, got shapes "
            f"{y_true.shape} and {y_pred.shape}"
        )
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def precision_recall(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision and recall ``(n_classes,)`` each, from a confusion matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    hits = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    return precision, recall


def predicted_classes(network: Network, X: np.ndarray) -> np.ndarray:
    """The class ``(N,)`` a classifier picks: its largest output, or output >= 0.5 for one unit."""
    output = network.forward(X)
    if network.n_out == 1:
        return (output[:, 0] >= 0.5).astype(np.int64)
    return output.argmax(axis=1)


def classification_report(network: Network, X: np.ndarray, y: np.ndarray) -> dict:
    """Loss, accuracy, confusion matrix and per-class precision/recall/support of ``network``.

    Parameters
    ----------
    X : ndarray, shape (N, n_in)
    y : ndarray, shape (N,)
        Integer class labels (0/1 for a network with one sigmoid output).

    Returns
    -------
    dict
        ``loss``, ``accuracy`` (floats), ``confusion_matrix`` (list of lists), ``precision``,
        ``recall`` and ``support`` (lists, one entry per class); plain Python values, ready for
        JSON.
    """
    if not network.is_classifier:
        raise ValidationError(
            f"a classification report needs a classifier, this network uses loss "
            f"{network.loss.name!r}: use network.evaluate for its loss"
        )
    if np.ndim(y) != 1:
        raise ValidationError(f"y must hold class labels of shape (N,), got shape {np.shape(y)}")
    n_classes = max(network.n_out, 2)
    loss = network.evaluate(X, y)["loss"]
    matrix = confusion_matrix(y, predicted_classes(network, X), n_classes)
    precision, recall = precision_recall(matrix)
    return {
        "loss": float(loss),
        "accuracy": float(np.trace(matrix) / matrix.sum()),
        "confusion_matrix": matrix.tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "support": matrix.sum(axis=1).tolist(),
    }
