"""What ``DeltapropClassifier`` and ``DeltapropRegressor`` share: parameters, network, training."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import TransformerTags, check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..errors import DeltapropError, DeltapropTypeError, ValidationError
from ..network import Network
from ..optimizers import Optimizer, get_optimizer
from ..validation import check_dtype, check_positive
from .convergence import ConvergenceCheck


@contextmanager
def deltaprop_errors() -> Iterator[None]:
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


class DeltapropEstimator(BaseEstimator):
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
        dtype: str | None = None,
        verbose: bool | int = False,
        engine: str = "auto",
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
        self.engine = engine

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

    def _input_dtype(self, reset: bool):
        """The dtype(s) ``validate_data`` may leave ``X`` in: the fitted network's, the one
        ``dtype`` names, or for ``dtype=None`` float32 X as it is and anything else as float64
        (scikit-learn's rule for its MLPs; the first of the pair is the default)."""
        if not reset:
            return self.network_.dtype
        if self.dtype is None:
            return (np.float64, np.float32)
        return check_dtype(self.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # preserves_dtype is scikit-learn's tag for "works in X's own float dtype" (its checks
        # read it of transformers only); a bad dtype is refused at fit, not here.
        preserved = ["float64", "float32"]
        if self.dtype is not None:
            try:
                preserved = [check_dtype(self.dtype).name]
            except DeltapropError:
                preserved = []
        tags.transformer_tags = TransformerTags(preserves_dtype=preserved)
        return tags

    # ------------------------------------------------------------ network and training
    def _build_network(self, n_features: int, dtype: np.dtype, seed: int) -> Network:
        return Network.from_sizes(
            [n_features, *self._hidden_sizes(), self.n_outputs_],
            hidden=self._hidden_activation(),
            output=self.out_activation_,
            loss=self._loss_name(),
            dtype=dtype,
            seed=seed,
            dropout=self.dropout,
            engine=self.engine,
        )

    def _train(self, X: np.ndarray, targets: np.ndarray, incremental: bool) -> None:
        """Fit ``self.network_`` on checked ``X (N, n_features)`` and encoded ``targets``.

        ``incremental`` (``partial_fit``) runs one epoch, keeps the network and the optimizer,
        and skips the convergence check and early stopping.
        """
        self._check_training_params()
        rng = check_random_state(self.random_state)
        if not (hasattr(self, "network_") and (incremental or self.warm_start)):
            seed = int(rng.randint(2**31 - 1))
            self.network_ = self._build_network(X.shape[1], X.dtype, seed)
            self._optimizer = self._new_optimizer()
            self.loss_curve_: list[float] = []
            self.validation_loss_curve_: list[float] | None = None
            self.n_iter_ = 0
            self.t_ = 0
        self.network_.engine = self.engine  # warm starts too train on the engine asked for
        validation = None
        if self.early_stopping and not incremental:
            X, targets, validation = self._split_validation(X, targets, rng)
        check = None
        if not incremental:
            check = ConvergenceCheck(
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
            self,
            X,
            y,
            multi_output=True,
            dtype=self._input_dtype(reset),
            y_numeric=y_numeric,
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _output(self, X) -> np.ndarray:
        """The network's output a^L as float64, shape ``(N, n_outputs_)``."""
        check_is_fitted(self)
        with deltaprop_errors():
            X = validate_data(self, X, dtype=self._input_dtype(reset=False), reset=False)
        return self.network_.forward(X).astype(np.float64)
