"""Loss functions L(y, ŷ), averaged over the batch, and their gradients ∂L/∂a^L.

Conventions (the same as PyTorch's default ``reduction="mean"``, so numbers can be compared):
mse, mae, huber and binary cross-entropy average over every element of the ``(N, n_out)``
output; cross-entropy sums over the classes of a sample and averages over the ``N`` samples.

Targets reach a loss as a float array shaped like the output, ``(N, n_out)``, except for
cross-entropy, which also takes integer class labels of shape ``(N,)`` and never builds the
one-hot matrix for them.

``output_delta`` gives the seed's δ^L = ∂L/∂z^L. Two pairs are fused because their delta is
simpler and more accurate than the chain rule through the activation: softmax with
cross-entropy gives ``(P - Y)/N``, sigmoid with binary cross-entropy ``(P - Y)/(N·n_out)``; both
compute the loss from ``z`` with a stable log-sum-exp.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation, Sigmoid, Softmax
from .errors import DeltapropTypeError, ValidationError
from .suggest import closest


class Loss:
    """Base class: ``value`` is L averaged over the batch, ``gradient`` is ∂L/∂a^L."""

    name = "loss"

    def check_activation(self, activation: Activation) -> None:
        """Raise ``ValidationError`` when this loss cannot follow the output ``activation``.

        Regression losses follow any activation (softmax too, through its full Jacobian).
        """

    def value(self, z: np.ndarray, a: np.ndarray, targets: np.ndarray) -> np.floating:
        """Return the mean loss as a scalar of the arrays' dtype (``float(...)`` it to print).

        ``z``, ``a`` and ``targets`` have shape ``(N, n_out)``. The scalar keeps the dtype so
        that ``gradcheck`` can difference losses computed in extended precision.
        """
        raise NotImplementedError

    def gradient(self, a: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Return ∂L/∂a, shape ``(N, n_out)``, including the 1/N (or 1/(N·n_out)) of the mean."""
        raise NotImplementedError

    def output_delta(
        self, z: np.ndarray, a: np.ndarray, targets: np.ndarray, activation: Activation
    ) -> np.ndarray:
        """Return δ^L = ∂L/∂a^L ⊙ σ'(z^L), shape ``(N, n_out)``."""
        return activation.backward(self.gradient(a, targets), z, a)

    def config(self) -> dict:
        """The constructor arguments that rebuild this loss (for model files)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.config().items())))


class MeanSquaredError(Loss):
    """L = mean over elements of (a - y)²; ∂L/∂a = 2(a - y)/(N·n_out)."""

    name = "mse"

    def value(self, z, a, targets):
        return np.mean(np.square(a - targets))

    def gradient(self, a, targets):
        grad = a - targets
        grad *= 2 / a.size
        return grad


class MeanAbsoluteError(Loss):
    """L = mean over elements of |a - y|; ∂L/∂a = sign(a - y)/(N·n_out)."""

    name = "mae"

    def value(self, z, a, targets):
        return np.mean(np.abs(a - targets))

    def gradient(self, a, targets):
        grad = np.sign(a - targets)
        grad *= 1 / a.size
        return grad


class Huber(Loss):
    """L = mean of ½d² where |d| ≤ δ, else δ(|d| - ½δ), with d = a - y; ∂L/∂a = clip(d, ±δ)/size."""

    name = "huber"

    def __init__(self, delta: float = 1.0):
        if not delta > 0:
            raise ValidationError(f"huber delta must be > 0, got {delta}")
        self.delta = float(delta)

    def value(self, z, a, targets):
        d = np.abs(a - targets)
        quadratic = np.minimum(d, self.delta)
        return np.mean(0.5 * quadratic * quadratic + self.delta * (d - quadratic))

    def gradient(self, a, targets):
        grad = np.clip(a - targets, -self.delta, self.delta)
        grad *= 1 / a.size
        return grad

    def config(self):
        return {"delta": self.delta}


class BinaryCrossEntropy(Loss):
    """L = -mean[y log p + (1 - y) log(1 - p)] over elements, p = sigmoid(z) (required).

    Computed from the logits as max(z, 0) - z·y + log(1 + e^(-|z|)); δ^L = (p - y)/(N·n_out).
    """

    name = "binary_cross_entropy"

    def check_activation(self, activation):
        if not isinstance(activation, Sigmoid):
            raise ValidationError(
                f"loss 'binary_cross_entropy' needs a sigmoid output, got {activation.name!r}: "
                "set the output activation to 'sigmoid'"
            )

    def value(self, z, a, targets):
        per_element = np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))
        return np.mean(per_element)

    def output_delta(self, z, a, targets, activation):
        delta = a - targets
        delta *= 1 / a.size
        return delta


class CrossEntropy(Loss):
    """L = -mean over samples of Σ_k y_k log p_k, p = softmax(z) (required).

    Computed as log Σ_k e^(z_k) - Σ_k y_k z_k (stable log-sum-exp); δ^L = (P - Y)/N. Targets are
    class labels ``(N,)`` or probability rows ``(N, n_out)``.
    """

    name = "cross_entropy"

    def check_activation(self, activation):
        if not isinstance(activation, Softmax):
            raise ValidationError(
                f"loss 'cross_entropy' needs a softmax output, got {activation.name!r}: set the "
                "output activation to 'softmax' (or use 'binary_cross_entropy' with 'sigmoid')"
            )

    def value(self, z, a, targets):
        shift = z.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.exp(z - shift).sum(axis=1)) + shift[:, 0]
        if targets.ndim == 1:
            target_logit = z[np.arange(len(z)), targets]
            return np.mean(log_sum_exp - target_logit)
        return np.mean(log_sum_exp * targets.sum(axis=1) - (targets * z).sum(axis=1))

    def output_delta(self, z, a, targets, activation):
        delta = a.copy()
        if targets.ndim == 1:
            delta[np.arange(len(a)), targets] -= 1
        else:
            delta -= targets
        delta *= 1 / len(a)
        return delta


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossEntropy, CrossEntropy)
}
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")


def get_loss(loss: str | Loss, **config) -> Loss:
    """Return a ``Loss`` for a name (``"mse"``) plus its arguments, or an instance."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str):
        raise DeltapropTypeError(f"loss must be a name such as 'mse' or a Loss, got {type(loss)}")
    key = loss.lower().replace("-", "_")
    key = {"bce": "binary_cross_entropy", "categorical_cross_entropy": "cross_entropy"}.get(
        key, key
    )
    if key not in LOSSES:
        raise ValidationError(
            f"unknown loss {loss!r}{closest(key, LOSSES)}; choose one of {', '.join(LOSSES)}"
        )
    return LOSSES[key](**config)
