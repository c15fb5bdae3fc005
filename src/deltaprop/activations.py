"""Activation functions σ and their derivatives σ', side by side.

Every activation maps the pre-activations ``z`` of a layer, shape ``(N, n_out)``, to its
activations ``a = σ(z)`` of the same shape. For the backward pass it gives ``σ'(z)``, which the
network multiplies element-wise into the delta (the ``⊙ σ'(z^l)`` of the seed). Softmax is the one
activation that is not element-wise: its ``backward`` applies the full Jacobian, and the network
skips it altogether when softmax is paired with cross-entropy (the delta is then ``(P - Y)/N``).

Several derivatives are computed from ``a`` rather than ``z`` (sigmoid: ``a(1-a)``), which is
cheaper and numerically the same.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import registry
from .errors import ValidationError
from .suggest import Configured


class Activation(Configured):
    """Base class: ``forward`` is σ, ``prime`` is σ', ``backward`` applies the chain rule."""

    name = "activation"
    elementwise = True

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return ``σ(z)``, shape ``(N, n)``, written into ``out`` when given; ``z`` is kept."""
        raise NotImplementedError

    def prime(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Return ``σ'(z)``, shape ``(N, n)``, given ``z`` and ``a = σ(z)``."""
        raise NotImplementedError

    def backward(self, grad_a: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Return ``∂L/∂z = ∂L/∂a ⊙ σ'(z)``; every array has shape ``(N, n)``.

        ``grad_a`` may be overwritten (the network never reuses it).
        """
        grad_a *= self.prime(z, a)
        return grad_a


class Identity(Activation):
    """σ(z) = z, σ'(z) = 1: the output of a regressor."""

    name = "identity"

    def forward(self, z, out=None):
        if out is None:
            return z
        np.copyto(out, z)
        return out

    def prime(self, z, a):
        return np.ones_like(z)

    def backward(self, grad_a, z, a):
        return grad_a


class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^(-z)), σ'(z) = σ(z)(1 - σ(z)): the seed's activation."""

    name = "sigmoid"

    def forward(self, z, out=None):
        # 1/(1+e^-z) overflows e^-z for z << 0; the form ½(1 + tanh(z/2)) is stable everywhere.
        out = np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        return out

    def prime(self, z, a):
        return a * (1 - a)


class Tanh(Activation):
    """σ(z) = tanh(z), σ'(z) = 1 - tanh²(z)."""

    name = "tanh"

    def forward(self, z, out=None):
        return np.tanh(z, out=out)

    def prime(self, z, a):
        return 1 - a * a


class ReLU(Activation):
    """σ(z) = max(z, 0), σ'(z) = 1 where z > 0 else 0."""

    name = "relu"

    def forward(self, z, out=None):
        # A row of zeros, not the scalar 0: NumPy vectorises maximum only for two arrays.
        zeros = _zeros(z.shape[-1], z.dtype) if np.ndim(z) else 0
        return np.maximum(z, zeros, out=out)

    def prime(self, z, a):
        return (a > 0).astype(a.dtype)

    def backward(self, grad_a, z, a):
        # grad_a ⊙ 1[a > 0], multiplying by the boolean mask directly (no float copy of it).
        return np.multiply(grad_a, a > 0, out=grad_a)


@functools.lru_cache(maxsize=64)
def _zeros(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only row of ``n`` zeros, shared by every call that needs one."""
    zeros = np.zeros(n, dtype=dtype)
    zeros.flags.writeable = False
    return zeros


class LeakyReLU(Activation):
    """σ(z) = z if z > 0 else αz, σ'(z) = 1 if z > 0 else α."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        self.alpha = _finite("alpha", alpha)

    def forward(self, z, out=None):
        return _store(np.where(z > 0, z, self.alpha * z), z, out)

    def prime(self, z, a):
        return np.where(z > 0, 1, self.alpha).astype(z.dtype, copy=False)

    def config(self):
        return {"alpha": self.alpha}


class ELU(Activation):
    """σ(z) = z if z > 0 else α(e^z - 1), σ'(z) = 1 if z > 0 else σ(z) + α."""

    name = "elu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = _finite("alpha", alpha)

    def forward(self, z, out=None):
        negative = self.alpha * np.expm1(np.minimum(z, 0))
        return _store(np.where(z > 0, z, negative), z, out)

    def prime(self, z, a):
        return np.where(z > 0, 1, a + self.alpha).astype(z.dtype, copy=False)

    def config(self):
        return {"alpha": self.alpha}


class GELU(Activation):
    """σ(z) = z Φ(z) with Φ the standard normal CDF (the exact form, as PyTorch's default).

    σ'(z) = Φ(z) + z φ(z), with φ the standard normal density.
    """

    name = "gelu"

    def forward(self, z, out=None):
        return _store(z * _normal_cdf(z), z, out)

    def prime(self, z, a):
        density = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return (_normal_cdf(z) + z * density).astype(z.dtype, copy=False)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z) = ½(1 + erf(z/√2)), element-wise."""
    scaled = z / math.sqrt(2)
    if scaled.dtype.itemsize > 8:
        return 0.5 * (1 + _erf_extended(scaled))
    return 0.5 * (1 + _erf(scaled))


PI_DIGITS = "3.14159265358979323846264338327950288"


def _erf_extended(x: np.ndarray) -> np.ndarray:
    """erf in ``np.longdouble`` precision, for ``gradcheck``'s extended-precision copy.

    For |x| < 2.5 the Taylor series 2/√π Σ (-1)^n x^(2n+1) / (n!(2n+1)), whose largest term
    is about 16, so it keeps about 18 digits; beyond, 1 - erfc(|x|) with erfc < 4e-4 in float64,
    whose error is then below 1e-19.
    """
    small = np.abs(x) < 2.5
    t = np.where(small, x, 0).astype(x.dtype)
    term, total = t.copy(), t.copy()
    for n in range(1, 60):
        term *= -t * t / n
        total += term / (2 * n + 1)
    # np.pi is a float64 constant: its 1e-16 error would undo the extra precision
    series = total * (2 / np.sqrt(np.longdouble(PI_DIGITS)))
    tail = np.sign(x) * (1 - _erfc(np.abs(x).astype(np.float64)).astype(x.dtype))
    return np.where(small, series, tail)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf, element-wise: SciPy's vectorised one when installed, else the standard library's
    (exact, one number at a time). Imported on first use so that ``import deltaprop`` stays
    light."""
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - SciPy comes with scikit-learn in the tests
        return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)
    return erf(x)


def _erfc(x: np.ndarray) -> np.ndarray:
    """erfc in float64, SciPy's when installed (accurate in the tail), else 1 - erf."""
    try:
        from scipy.special import erfc
    except ImportError:  # pragma: no cover
        return np.vectorize(math.erfc, otypes=[np.float64])(x)
    return erfc(x)


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _store(values: np.ndarray, z: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """Return ``values`` in ``z``'s dtype, copied into ``out`` when one is given."""
    if out is None:
        return values.astype(z.dtype, copy=False)
    np.copyto(out, values, casting="same_kind")
    return out


class Softplus(Activation):
    """σ(z) = log(1 + e^z), σ'(z) = 1 / (1 + e^(-z)) (the sigmoid)."""

    name = "softplus"

    def forward(self, z, out=None):
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|) never overflows.
        return _store(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))), z, out)

    def prime(self, z, a):
        # e^a = 1 + e^z, so sigmoid(z) = 1 - e^(-a): no second exponential of z needed.
        return -np.expm1(-a)


class Softmax(Activation):
    """σ(z)_i = e^(z_i) / Σ_j e^(z_j) over each row; a probability distribution per sample.

    Not element-wise: ∂a_i/∂z_j = a_i(1[i=j] - a_j), so ``backward`` returns
    ``a ⊙ (g - Σ_j g_j a_j)`` row by row. With cross-entropy the network uses ``(P - Y)/N``.
    """

    name = "softmax"
    elementwise = False

    def forward(self, z, out=None):
        # Subtracting the row maximum leaves softmax unchanged and keeps e^z finite.
        out = np.subtract(z, np.maximum.reduce(z, axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= np.add.reduce(out, axis=1, keepdims=True)
        return out

    def prime(self, z, a):
        raise ValidationError(
            "softmax has no element-wise derivative: use Softmax.backward (the full Jacobian)"
        )

    def backward(self, grad_a, z, a):
        grad_a -= (grad_a * a).sum(axis=1, keepdims=True)
        grad_a *= a
        return grad_a


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softplus, Softmax)
}


_ALIASES = {"linear": "identity"}


def get_activation(activation: str | Activation | None) -> Activation:
    """Return an ``Activation`` for a name (``"relu"``), an instance, or ``None`` (identity)."""
    return registry.get(
        "activation",
        activation,
        ACTIVATIONS,
        Activation,
        {},
        example="relu",
        default="identity",
        aliases=_ALIASES,
    )


def activation_from_config(name: str, config: dict) -> Activation:
    """Rebuild an activation from its name and ``config()`` (model files use this)."""
    return registry.get(
        "activation", name, ACTIVATIONS, Activation, config, example="relu", aliases=_ALIASES
    )
