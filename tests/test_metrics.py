"""Confusion matrix, precision and recall, checked on a hand-worked example and against sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop.metrics import classification_report, confusion_matrix, precision_recall


def test_hand_worked_example():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 0, 1, 1, 1])
    matrix = confusion_matrix(y_true, y_pred, 3)
    # rows: true class; columns: predicted class
    assert matrix.tolist() == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    precision, recall = precision_recall(matrix)
    # class 0: predicted twice, both right; found 2 of its 3 samples
    # class 1: predicted 4 times, 2 right; found both of its samples
    # class 2: never predicted (precision 0 by convention); found 0 of 1
    assert precision.tolist() == [1.0, 0.5, 0.0]
    assert recall.tolist() == pytest.approx([2 / 3, 1.0, 0.0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_agrees_with_scikit_learn(pairs):
    metrics = require("sklearn.metrics")
    y_true, y_pred = (np.array(column) for column in zip(*pairs))
    matrix = confusion_matrix(y_true, y_pred, 4)
    assert np.array_equal(matrix, metrics.confusion_matrix(y_true, y_pred, labels=range(4)))
    precision, recall = precision_recall(matrix)
    expected = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=range(4), zero_division=0
    )
    assert np.allclose(precision, expected[0]) and np.allclose(recall, expected[1])


def test_bad_labels_are_refused():
    with pytest.raises(dp.ValidationError, match=r"labels 0..3 but the output layer has 3"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)
    with pytest.raises(dp.ValidationError, match="one length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 3)


def test_classification_report_of_a_network():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    net = dp.Network.from_sizes([4, 8, 3], seed=1)
    report = classification_report(net, X, y)
    assert report["accuracy"] == pytest.approx(net.evaluate(X, y)["accuracy"])
    assert report["loss"] == pytest.approx(net.evaluate(X, y)["loss"])
    assert report["support"] == np.bincount(y, minlength=3).tolist()
    assert (
        np.array(report["confusion_matrix"]).sum(axis=0).tolist()
        == np.bincount(net.predict(X), minlength=3).tolist()
    )


def test_classification_report_with_one_sigmoid_output():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 2, 30)
    net = dp.Network.from_sizes([2, 1], output="sigmoid", loss="binary_cross_entropy")
    report = classification_report(net, X, y)
    assert np.array(report["confusion_matrix"]).shape == (2, 2)
    assert report["accuracy"] == pytest.approx(np.mean(net.predict(X) == y))


def test_classification_report_needs_a_classifier():
    net = dp.Network.from_sizes([2, 1], output="identity", loss="mse")
    with pytest.raises(dp.ValidationError, match="needs a classifier"):
        classification_report(net, np.zeros((2, 2)), np.zeros(2))
