"""Confusion matrix and per-class scores against scikit-learn's, and the label rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import precision_recall_fscore_support

import deltaprop as dp
from deltaprop.metrics import (
    class_scores,
    confusion_matrix,
    is_classification,
    predicted_labels,
    true_labels,
)


@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 6),
    pairs=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=60),
)
def test_scores_agree_with_scikit_learn(n_classes, pairs):
    y_true = np.array([t % n_classes for t, _ in pairs])
    y_pred = np.array([p % n_classes for _, p in pairs])
    labels = list(range(n_classes))
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    np.testing.assert_array_equal(matrix, sk_confusion_matrix(y_true, y_pred, labels=labels))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    scores = class_scores(matrix)
    np.testing.assert_allclose(scores.precision, precision)
    np.testing.assert_allclose(scores.recall, recall)
    np.testing.assert_allclose(scores.f1, f1)
    np.testing.assert_array_equal(scores.support, support)
    assert scores.accuracy == pytest.approx(np.mean(y_true == y_pred))


def test_labels_from_one_hot_rows_and_sigmoid_outputs():
    np.testing.assert_array_equal(true_labels(np.eye(3)[[2, 0, 1]]), [2, 0, 1])
    np.testing.assert_array_equal(true_labels(np.array([[0.9], [0.1]])), [1, 0])
    network = dp.Network.from_sizes([2, 1], output="sigmoid", loss="binary_cross_entropy")
    network.layers[0].weights = [[1.0, 0.0]]
    np.testing.assert_array_equal(predicted_labels(network, [[2.0, 0.0], [-2.0, 0.0]]), [1, 0])


def test_what_counts_as_classification():
    seed_mnist = dp.Network.from_sizes([4, 3], hidden="sigmoid", output="sigmoid", loss="mse")
    assert is_classification(seed_mnist, np.array([0, 2, 1]))  # labels with an mse network
    assert is_classification(seed_mnist, np.eye(3)[[0, 2]])  # one-hot rows
    regressor = dp.Network.from_sizes([4, 1], output="identity", loss="mse")
    assert not is_classification(regressor, np.array([0.5, 1.7]))
    assert is_classification(regressor, np.array([0, 1, 1]))  # XOR with mse: 0/1 targets


def test_labels_out_of_range_are_refused():
    with pytest.raises(dp.ValidationError, match="labels"):
        confusion_matrix([0, 3], [0, 1], n_classes=3)
