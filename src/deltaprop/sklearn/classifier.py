"""``DeltapropClassifier``: a deltaprop network as a scikit-learn classifier."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from ..errors import ValidationError
from .estimator import DeltapropEstimator, deltaprop_errors


class DeltapropClassifier(ClassifierMixin, DeltapropEstimator):
    """A fully connected network trained by backpropagation, as a scikit-learn classifier.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default (100,)
        Units of each hidden layer; ``()`` gives no hidden layer (logistic regression).
    activation : str, default "relu"
        Hidden activation: "relu", "tanh", "logistic" (= "sigmoid"), "identity",
        "leaky_relu", "elu", "gelu" or "softplus".
    optimizer : str, default "adam"
        "adam", "sgd", "momentum", "nesterov", "adamw", "rmsprop" or "adagrad"
        (``deltaprop.get_optimizer``).
    learning_rate : float, default 1e-3
        Base learning rate η.
    optimizer_params : dict, optional
        Further optimizer arguments, e.g. ``{"beta1": 0.9}`` or ``{"momentum": 0.5}``.
    batch_size : int or "auto", default 32
        Samples per update; "auto" is ``min(200, n_samples)`` as in ``MLPClassifier``.
    epochs : int, default 200
        Maximum number of passes over the training data (``MLPClassifier``'s ``max_iter``).
    alpha : float, default 1e-4
        L2 penalty: the optimizer's ``weight_decay`` λ, which adds λW to ∂L/∂W of every weight
        matrix (PyTorch's convention, not divided by the batch size as ``MLPClassifier``'s
        alpha is); decoupled when ``optimizer="adamw"``.
    dropout : float, default 0.0
        Dropout probability of every hidden layer's output during training.
    shuffle : bool, default True
        Draw a new order of the samples every epoch.
    tol, n_iter_no_change : float, int, default 1e-4, 10
        Stop when the training loss (the validation loss with ``early_stopping``) has not
        fallen by at least ``tol`` for ``n_iter_no_change`` epochs in a row.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified), monitor its loss,
        and end with the parameters of the epoch where it was lowest.
    validation_fraction : float, default 0.1
        The part held out with ``early_stopping``.
    warm_start : bool, default False
        ``fit`` continues from the current parameters and optimizer state.
    random_state : int, RandomState or None, default None
        Seeds the initial weights, the shuffling, dropout and the validation split.
    dtype : {"float32", "float64"} or None, default None
        Precision of the parameters, of training and of prediction. None: float32 when the ``X``
        given to ``fit`` is float32, float64 otherwise (scikit-learn's rule for its MLPs); the
        estimator tags say so (``transformer_tags.preserves_dtype``).
    verbose : bool, default False
        Print one line per epoch on stderr.
    engine : {"auto", "numpy", "compiled"}, default "auto"
        Who computes training and prediction (see ``deltaprop.Network``): the NumPy reference,
        or numba kernels (``pip install "deltaprop[fast]"``); auto: compiled when numba is
        installed.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (``arange(n_labels)`` for multilabel targets).
    network_ : deltaprop.Network
        The trained network; ``network_.save(path)`` writes a model file.
    n_features_in_, feature_names_in_ : int, ndarray
        Set by ``fit`` as in every scikit-learn estimator.
    n_outputs_ : int
        Output units: 1 for two classes, else the number of classes or labels.
    out_activation_ : str
        "sigmoid" or "softmax".
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch when ``early_stopping``.
    best_loss_ : float
        The lowest value in ``loss_curve_``.
    n_iter_ : int
        Epochs run; ``t_`` is the number of training samples seen.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _loss_name(self) -> str:
        return "cross_entropy" if self.out_activation_ == "softmax" else "binary_cross_entropy"

    def fit(self, X, y) -> DeltapropClassifier:
        """Train on ``X (n_samples, n_features)`` and labels ``y (n_samples,)``.

        ``y`` may also be a multilabel indicator matrix ``(n_samples, n_labels)``.
        """
        with deltaprop_errors():
            keep = self.warm_start and hasattr(self, "network_")
            X, y = self._validate_xy(X, y, reset=not keep, y_numeric=False)
            targets = self._encode(y, classes=self.classes_ if keep else None, first=not keep)
        self._train(X, targets, incremental=False)
        return self

    def partial_fit(self, X, y, classes=None) -> DeltapropClassifier:
        """One epoch over ``X`` and ``y``; the first call needs ``classes`` (all labels).

        For a multilabel indicator ``y`` the labels are its columns and ``classes`` may be
        left out.
        """
        with deltaprop_errors():
            first = not hasattr(self, "network_")
            X, y = self._validate_xy(X, y, reset=first, y_numeric=False)
            if first and classes is None and type_of_target(y) != "multilabel-indicator":
                raise ValidationError(
                    "classes must be passed on the first call to partial_fit: give every "
                    "label that can occur, e.g. partial_fit(X, y, classes=np.unique(y_all))"
                )
            if first:
                known = None if classes is None else unique_labels(classes)
            elif classes is None or np.array_equal(unique_labels(classes), self.classes_):
                known = self.classes_
            else:
                raise ValidationError(
                    f"classes={classes!r} differs from classes_={self.classes_!r} of the "
                    "first partial_fit call: pass the same classes every time"
                )
            targets = self._encode(y, classes=known, first=first)
        self._train(X, targets, incremental=True)
        return self

    def _encode(self, y: np.ndarray, classes: np.ndarray | None, first: bool) -> np.ndarray:
        """Turn labels into the network's targets and, when ``first``, set the output layout.

        Returns int64 class indices ``(N,)`` or, for multilabel ``y``, a 0/1 float matrix.
        """
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind == "multilabel-indicator":
            layout = ("sigmoid", y.shape[1], np.arange(y.shape[1]))
            targets = np.asarray(y, dtype=np.float64)  # fit converts them to the network's dtype
        elif kind in ("binary", "multiclass"):
            labels = unique_labels(y) if classes is None else np.asarray(classes)
            if len(labels) < 2:
                raise ValidationError(
                    f"y has one class ({labels[0]!r}): a classifier needs at least 2 classes "
                    "in its training data"
                )
            unknown = np.setdiff1d(unique_labels(y), labels)
            if len(unknown):
                raise ValidationError(
                    f"y has labels {unknown.tolist()} not among the classes "
                    f"{labels.tolist()}: pass every label in classes"
                )
            n_outputs = 1 if len(labels) == 2 else len(labels)
            layout = ("sigmoid" if n_outputs == 1 else "softmax", n_outputs, labels)
            targets = np.searchsorted(labels, y).astype(np.int64)
        else:
            raise ValidationError(
                f"y is {kind} but DeltapropClassifier takes binary, multiclass or "
                "multilabel-indicator targets: fit one classifier per output column"
            )
        if first:
            self.out_activation_, self.n_outputs_, self.classes_ = layout
            self._multilabel = kind == "multilabel-indicator"
        elif layout[1] != self.n_outputs_ or self._multilabel != (kind == "multilabel-indicator"):
            raise ValidationError(
                f"y is {kind} with {layout[1]} outputs but this classifier was fitted with "
                f"{self.n_outputs_}: use fit to start again"
            )
        return targets

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)`` (``(n_samples, n_labels)``
        for multilabel targets), in the order of ``classes_``."""
        output = self._output(X)
        if self._multilabel:
            return output
        if self.n_outputs_ == 1:
            return np.hstack([1 - output, output])
        # The float32 softmax sums to 1 within rounding; renormalise in float64.
        return output / output.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Labels ``(n_samples,)`` from ``classes_`` (a 0/1 matrix for multilabel targets)."""
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]
