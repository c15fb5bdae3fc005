"""``DeltapropRegressor``: a deltaprop network as a scikit-learn regressor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import RegressorMixin

from ..errors import ValidationError
from .estimator import DeltapropEstimator, deltaprop_errors

#: scikit-learn's names of the regression losses (and deltaprop's own) → deltaprop's loss.
REGRESSION_LOSSES = {
    "squared_error": "mse",
    "absolute_error": "mae",
    "huber": "huber",
    "mse": "mse",
    "mae": "mae",
}


class DeltapropRegressor(RegressorMixin, DeltapropEstimator):
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
        dtype: str | None = None,
        verbose: bool | int = False,
        engine: str = "auto",
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
            engine=engine,
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
        with deltaprop_errors():
            X, y = self._validate_xy(X, y, reset=not keep, y_numeric=True)
            self._set_layout(y, first=not keep)
        self._train(X, y, incremental=False)
        return self

    def partial_fit(self, X, y) -> DeltapropRegressor:
        """One epoch over ``X`` and ``y``, continuing from the current parameters."""
        first = not hasattr(self, "network_")
        with deltaprop_errors():
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
