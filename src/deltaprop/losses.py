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

from . import registry
from .activations import Activation, Sigmoid, Softmax
from .errors import ValidationError
from .suggest import Configured


class Loss(Configured):
    """Base class: ``value`` is L averaged over the batch, ``gradient`` is ∂L/∂a^L."""

    name = "loss"
    #: The output activation this loss needs (its fused delta assumes it); None: any, as for
    #: regression losses (softmax too, through its full Jacobian).
    output_activation: type[Activation] | None = None
    #: What else the error for a wrong output activation suggests.
    alternative = ""

    def check_activation(self, activation: Activation) -> None:
        """Raise ``ValidationError`` when this loss cannot follow the output ``activation``."""
        needed = self.output_activation
        if needed is not None and not isinstance(activation, needed):
            raise ValidationError(
                f"loss {self.name!r} needs a {needed.name} output, got {activation.name!r}: "
                f"set the output activation to {needed.name!r}{self.alternative}"
            )

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
        self,
        z: np.ndarray,
        a: np.ndarray,
        targets: np.ndarray,
        activation: Activation,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return δ^L = ∂L/∂a^L ⊙ σ'(z^L), shape ``(N, n_out)``.

        ``out``, an array of that shape and dtype, may hold the result (the fused softmax and
        sigmoid pairs write into it; the chain rule through σ' returns a new array).
        """
        return activation.backward(self.gradient(a, targets), z, a)


class MeanSquaredError(Loss):
    """L = mean over elements of (a - y)²; ∂L/∂a = 2(a - y)/(N·n_out)."""

    name = "mse"

    def value(self, z, a, targets):
        return _mean(np.square(a - targets))

    def gradient(self, a, targets):
        grad = a - targets
        grad *= 2 / a.size
        return grad


class MeanAbsoluteError(Loss):
    """L = mean over elements of |a - y|; ∂L/∂a = sign(a - y)/(N·n_out)."""

    name = "mae"

    def value(self, z, a, targets):
        return _mean(np.abs(a - targets))

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
        return _mean(0.5 * quadratic * quadratic + self.delta * (d - quadratic))

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
    output_activation = Sigmoid

    def value(self, z, a, targets):
        per_element = np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))
        return _mean(per_element)

    def output_delta(self, z, a, targets, activation, out=None):
        # δ^L = (P - Y)/(N·n_out)
        delta = np.subtract(a, targets, out=out)
        delta *= 1 / a.size
        return delta


class CrossEntropy(Loss):
    """L = -mean over samples of Σ_k y_k log p_k, p = softmax(z) (required).

    Computed as log Σ_k e^(z_k) - Σ_k y_k z_k (stable log-sum-exp); δ^L = (P - Y)/N. Targets are
    class labels ``(N,)`` or probability rows ``(N, n_out)``.
    """

    name = "cross_entropy"
    output_activation = Softmax
    alternative = " (or use 'binary_cross_entropy' with 'sigmoid')"

    def value(self, z, a, targets):
        # log Σ_k e^(z_k) = m + log Σ_k e^(z_k - m), m the row maximum, so e^z stays finite
        shift = np.maximum.reduce(z, axis=1)
        exp_shifted = np.exp(np.subtract(z, shift[:, None]))
        log_sum_exp = np.log(np.add.reduce(exp_shifted, axis=1))
        log_sum_exp += shift
        if targets.ndim == 1:
            # L_n = log Σ_k e^(z_k) - z_(target)
            log_sum_exp -= z[np.arange(len(z)), targets]
            return _mean(log_sum_exp)
        # L_n = Σ_k y_k (log Σ_j e^(z_j) - z_k)
        return _mean(
            log_sum_exp * np.add.reduce(targets, axis=1) - np.add.reduce(targets * z, axis=1)
        )

    def output_delta(self, z, a, targets, activation, out=None):
        # δ^L = (P - Y)/N; for labels, Y is one-hot, so only the target entries lose 1
        if targets.ndim == 1:
            delta = a.copy() if out is None else _copy_into(out, a)
            delta[np.arange(len(a)), targets] -= 1
        else:
            delta = np.subtract(a, targets, out=out)
        delta *= 1 / len(a)
        return delta


def _copy_into(out: np.ndarray, a: np.ndarray) -> np.ndarray:
    np.copyto(out, a)
    return out


def _mean(values: np.ndarray) -> np.floating:
    """The mean, a scalar of ``values``' dtype, as ``np.mean`` computes it without its few µs
    of Python (each training step computes a loss)."""
    return np.add.reduce(values, axis=None) / values.size


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossEntropy, CrossEntropy)
}
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")


def get_loss(loss: str | Loss, **config) -> Loss:
    """Return a ``Loss`` for a name (``"mse"``) plus its arguments, or an instance."""
    return registry.get(
        "loss",
        loss,
        LOSSES,
        Loss,
        config,
        example="mse",
        aliases={"bce": "binary_cross_entropy", "categorical_cross_entropy": "cross_entropy"},
    )
