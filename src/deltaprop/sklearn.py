"""scikit-learn estimators: a deltaprop network as a classifier or a regressor.

``DeltapropClassifier`` and ``DeltapropRegressor`` follow scikit-learn's estimator API (``fit``,
``predict``, ``predict_proba``, ``score``, ``partial_fit``, ``get_params``/``set_params``) and
take parameters in the style of ``MLPClassifier``, so they work in ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``. They pass scikit-learn's own ``check_estimator``.

>>> from deltaprop.sklearn import DeltapropClassifier
>>> clf = DeltapropClassifier(hidden_layer_sizes=(64,), epochs=20).fit(X, y)  # doctest: +SKIP

How targets become outputs:

* two classes: **one sigmoid output** with binary cross-entropy (as ``MLPClassifier``);
  ``predict_proba`` returns the two columns ``[1 - p, p]``;
* more classes: one softmax output per class with cross-entropy;
* a multilabel indicator matrix ``(n_samples, n_labels)``: one sigmoid output per label;
* regression: identity outputs, one per target column (multi-output regression).

Class labels may be anything ``np.unique`` can sort (integers, strings, ...); ``classes_``
holds them in sorted order. ``dtype`` sets the precision of the parameters and of training;
predictions and probabilities are returned as float64, scikit-learn's convention.

This module is the only one that imports scikit-learn; ``import deltaprop`` does not.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .errors import DeltapropError, DeltapropTypeError, ValidationError
from .network import Network
from .optimizers import Optimizer, get_optimizer
from .training import Callback
from .validation import check_dtype, check_positive

REGRESSION_LOSSES = {
    "squared_error": "mse",
    "absolute_error": "mae",
    "huber": "huber",
    "mse": "mse",
    "mae": "mae",
}


@contextmanager
def _deltaprop_errors() -> Iterator[None]:
    """Re-raise scikit-learn's input errors as deltaprop's, keeping their messages.

    ``ValidationError`` is a ``ValueError`` and ``DeltapropTypeError`` a ``TypeError``, so
    callers that expect scikit-learn's exception types still catch them.
    """
    try:
        yield
    except DeltapropError:
        raise
    except ValueError as error:
        raise ValidationError(str(error)) from error
    except TypeError as error:
        raise DeltapropTypeError(str(error)) from error


class _ConvergenceCheck(Callback):
    """Stop when ``monitor`` has not improved by ``tol`` for ``patience`` epochs in a row.

    With ``restore_best`` the network ends with the parameters of its best epoch.
    """

    def __init__(self, monitor: str, tol: float, patience: int, restore_best: bool):
        self.monitor, self.tol, self.patience = monitor, tol, patience
        self.restore_best = restore_best
        self.best = math.inf
        self.stale_epochs = 0
        self.converged = False
        self.best_parameters: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch, logs, network):
        value = logs[self.monitor]
        self.stale_epochs = self.stale_epochs + 1 if value > self.best - self.tol else 0
        if value < self.best:
            self.best = value
            if self.restore_best:
                self.best_parameters = [p.copy() for p in network.parameters()]
        self.converged = self.stale_epochs >= self.patience
        return self.converged

    def on_train_end(self, network):
        if self.best_parameters is not None:
            for parameter, best in zip(network.parameters(), self.best_parameters):
                parameter[...] = best


class _DeltapropEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, network and training."""

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        optimizer_params: dict | None = None,
        batch_size: int | str = 32,
        epochs: int = 200,
        alpha: float = 1e-4,
        dropout: float = 0.0,
        shuffle: bool = True,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        warm_start: bool = False,
        random_state: int | np.random.RandomState | None = None,
        dtype: str = "float32",
        verbose: bool | int = False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.optimizer_params = optimizer_params
        self.batch_size = batch_size
        self.epochs = epochs
        self.alpha = alpha
        self.dropout = dropout
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # ------------------------------------------------------------ parameters, checked at fit
    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        elif isinstance(sizes, np.ndarray) and sizes.ndim == 1:
            sizes = sizes.tolist()
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise ValidationError(
                f"hidden_layer_sizes must be a tuple of positive integers such as (100,) or "
                f"(64, 32), got {self.hidden_layer_sizes!r}"
            )
        return [check_positive("hidden_layer_sizes[i]", n, integer=True) for n in sizes]

    def _hidden_activation(self) -> str:
        # "logistic" is scikit-learn's name for the sigmoid.
        return "sigmoid" if self.activation == "logistic" else self.activation

    def _check_training_params(self) -> None:
        check_positive("epochs", self.epochs, integer=True)
        check_positive("n_iter_no_change", self.n_iter_no_change, integer=True)
        if isinstance(self.tol, bool) or not isinstance(self.tol, Real) or not self.tol >= 0:
            raise ValidationError(f"tol must be a number >= 0, got {self.tol!r}")
        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction < 1:
            raise ValidationError(
                f"validation_fraction must be a number in (0, 1), got {fraction!r}"
            )
        if self.batch_size != "auto":
            check_positive("batch_size", self.batch_size, integer=True)

    def _batch_size(self, n_samples: int) -> int:
        # "auto" is scikit-learn's MLP default: min(200, n_samples).
        return min(200, n_samples) if self.batch_size == "auto" else int(self.batch_size)

    def _new_optimizer(self) -> Optimizer:
        if not isinstance(self.optimizer, str):
            raise DeltapropTypeError(
                f"optimizer must be a name ('adam', 'sgd', 'momentum', 'nesterov', 'adamw', "
                f"'rmsprop', 'adagrad'), got {type(self.optimizer).__name__}: pass its "
                "arguments in optimizer_params"
            )
        if self.optimizer_params is not None and not isinstance(self.optimizer_params, dict):
            raise DeltapropTypeError(
                f"optimizer_params must be a dict such as {{'beta1': 0.9}} or None, got "
                f"{type(self.optimizer_params).__name__}"
            )
        options = {"lr": self.learning_rate, "weight_decay": self.alpha}
        options.update(self.optimizer_params or {})
        try:
            return get_optimizer(self.optimizer, **options)
        except TypeError as error:
            raise DeltapropTypeError(f"optimizer_params: {error}") from None

    def _np_dtype(self) -> np.dtype:
        return check_dtype(self.dtype)

    # ------------------------------------------------------------ network and training
    def _build_network(self, n_features: int, seed: int) -> Network:
        return Network.from_sizes(
            [n_features, *self._hidden_sizes(), self.n_outputs_],
            hidden=self._hidden_activation(),
            output=self.out_activation_,
            loss=self._loss_name(),
            dtype=self.dtype,
            seed=seed,
            dropout=self.dropout,
        )

    def _train(self, X: np.ndarray, targets: np.ndarray, incremental: bool) -> None:
        """Fit ``self.network_`` on checked ``X (N, n_features)`` and encoded ``targets``.

        ``incremental`` (``partial_fit``) runs one epoch, keeps the network and the optimizer,
        and skips the convergence check and early stopping.
        """
        self._check_training_params()
        rng = check_random_state(self.random_state)
        if not (hasattr(self, "network_") and (incremental or self.warm_start)):
            self.network_ = self._build_network(X.shape[1], int(rng.randint(2**31 - 1)))
            self._optimizer = self._new_optimizer()
            self.loss_curve_: list[float] = []
            self.validation_loss_curve_: list[float] | None = None
            self.n_iter_ = 0
            self.t_ = 0
        validation = None
        if self.early_stopping and not incremental:
            X, targets, validation = self._split_validation(X, targets, rng)
        check = None
        if not incremental:
            check = _ConvergenceCheck(
                monitor="val_loss" if validation else "loss",
                tol=float(self.tol),
                patience=int(self.n_iter_no_change),
                restore_best=validation is not None,
            )
        epochs = 1 if incremental else int(self.epochs)
        history = self.network_.fit(
            X,
            targets,
            epochs=epochs,
            batch_size=self._batch_size(len(X)),
            optimizer=self._optimizer,
            validation_data=validation,
            shuffle=bool(self.shuffle),
            callbacks=[check] if check else [],
            verbose=2 if self.verbose else 0,
        )
        self.loss_curve_.extend(history.loss)
        if validation is not None:
            self.validation_loss_curve_ = list(history.val_loss)
        self.n_iter_ += history.epochs
        self.t_ += history.epochs * len(X)
        self.best_loss_ = min(self.loss_curve_)
        if check is not None and not check.converged:
            warnings.warn(
                f"{type(self).__name__}: stopped after epochs={epochs} while the "
                f"{'validation ' if validation else ''}loss was still improving by more than "
                f"tol={self.tol}; raise epochs or learning_rate",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _split_validation(self, X, targets, rng):
        stratify = None
        if targets.ndim == 1 and np.issubdtype(targets.dtype, np.integer):
            counts = np.bincount(targets)
            stratify = targets if counts[counts > 0].min() >= 2 else None
        X_train, X_val, t_train, t_val = train_test_split(
            X,
            targets,
            test_size=self.validation_fraction,
            random_state=rng,
            stratify=stratify,
        )
        return X_train, t_train, (X_val, t_val)

    def _validate_xy(self, X, y, reset: bool, y_numeric: bool):
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=self._np_dtype(), y_numeric=y_numeric, reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _output(self, X) -> np.ndarray:
        """The network's output a^L as float64, shape ``(N, n_outputs_)``."""
        check_is_fitted(self)
        with _deltaprop_errors():
            X = validate_data(self, X, dtype=self._np_dtype(), reset=False)
        return self.network_.forward(X).astype(np.float64)


class DeltapropClassifier(ClassifierMixin, _DeltapropEstimator):
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
    dtype : {"float32", "float64"}, default "float32"
        Precision of the parameters and of training.
    verbose : bool, default False
        Print one line per epoch on stderr.

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
        with _deltaprop_errors():
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
        with _deltaprop_errors():
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
            targets = np.asarray(y, dtype=self._np_dtype())
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


class DeltapropRegressor(RegressorMixin, _DeltapropEstimator):
    """A fully connected network trained by backpropagation, as a scikit-learn regressor.

    The output layer has one identity unit per target column; ``y`` of shape
    ``(n_samples, n_targets)`` gives multi-output regression, and ``predict`` returns the shape
    of the ``y`` it was fitted on (``(n_samples,)`` for 1-D ``y``).

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber"}, default "squared_error"
        Mean squared error, mean absolute error or Huber (δ = 1), averaged over every element.

    The other parameters are those of ``DeltapropClassifier``; the attributes too, except
    ``classes_``, and ``out_activation_`` is "identity".
    """

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        loss: str = "squared_error",
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        optimizer_params: dict | None = None,
        batch_size: int | str = 32,
        epochs: int = 200,
        alpha: float = 1e-4,
        dropout: float = 0.0,
        shuffle: bool = True,
        tol: float = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        warm_start: bool = False,
        random_state: int | np.random.RandomState | None = None,
        dtype: str = "float32",
        verbose: bool | int = False,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            optimizer=optimizer,
            learning_rate=learning_rate,
            optimizer_params=optimizer_params,
            batch_size=batch_size,
            epochs=epochs,
            alpha=alpha,
            dropout=dropout,
            shuffle=shuffle,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            warm_start=warm_start,
            random_state=random_state,
            dtype=dtype,
            verbose=verbose,
        )
        self.loss = loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _loss_name(self) -> str:
        if self.loss not in REGRESSION_LOSSES:
            raise ValidationError(
                f"loss must be 'squared_error', 'absolute_error' or 'huber', got {self.loss!r}"
            )
        return REGRESSION_LOSSES[self.loss]

    def fit(self, X, y) -> DeltapropRegressor:
        """Train on ``X (n_samples, n_features)`` and ``y (n_samples,)`` or
        ``(n_samples, n_targets)``."""
        keep = self.warm_start and hasattr(self, "network_")
        with _deltaprop_errors():
            X, y = self._validate_xy(X, y, reset=not keep, y_numeric=True)
            self._set_layout(y, first=not keep)
        self._train(X, y, incremental=False)
        return self

    def partial_fit(self, X, y) -> DeltapropRegressor:
        """One epoch over ``X`` and ``y``, continuing from the current parameters."""
        first = not hasattr(self, "network_")
        with _deltaprop_errors():
            X, y = self._validate_xy(X, y, reset=first, y_numeric=True)
            self._set_layout(y, first=first)
        self._train(X, y, incremental=True)
        return self

    def _set_layout(self, y: np.ndarray, first: bool) -> None:
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if first:
            self.out_activation_, self.n_outputs_ = "identity", n_outputs
        elif n_outputs != self.n_outputs_:
            raise ValidationError(
                f"y has {n_outputs} target columns but this regressor was fitted with "
                f"{self.n_outputs_}: use fit to start again"
            )

    def predict(self, X) -> np.ndarray:
        """Predictions ``(n_samples,)`` for one target, ``(n_samples, n_targets)`` for more."""
        output = self._output(X)
        return output[:, 0] if self.n_outputs_ == 1 else output
