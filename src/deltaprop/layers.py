"""Fully connected layers: the weights W^l, biases b^l and activation σ of one layer l.

``Dense.weights`` has shape ``(n_out, n_in)``: ``W^l_ij`` connects neuron i of layer l to neuron j
of layer l-1, as in the seed and in PyTorch's ``nn.Linear.weight``. ``Dense.bias`` has shape
``(n_out,)``. The arithmetic that uses them lives in ``network.py``.
"""

from __future__ import annotations

import math

import numpy as np

from .activations import Activation, get_activation
from .errors import DeltapropTypeError, ValidationError
from .suggest import closest
from .validation import check_positive

RELU_FAMILY = ("relu", "leaky_relu", "elu", "gelu")


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """U(-r, r) with r = √(6 / (n_in + n_out)): keeps variance through sigmoid/tanh layers."""
    limit = math.sqrt(6 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_out, n_in))


def glorot_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """N(0, 2 / (n_in + n_out))."""
    return rng.normal(0.0, math.sqrt(2 / (n_in + n_out)), size=(n_out, n_in))


def he_uniform(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """U(-r, r) with r = √(6 / n_in): keeps variance through ReLU layers, which halve it."""
    limit = math.sqrt(6 / n_in)
    return rng.uniform(-limit, limit, size=(n_out, n_in))


def he_normal(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """N(0, 2 / n_in)."""
    return rng.normal(0.0, math.sqrt(2 / n_in), size=(n_out, n_in))


INITIALIZERS = {f.__name__: f for f in (glorot_uniform, glorot_normal, he_uniform, he_normal)} | {
    "xavier_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
}


class Dense:
    """A fully connected layer: ``a = σ(W a_prev + b)``.

    Parameters
    ----------
    n_in, n_out : int
        Number of inputs (units of layer l-1) and of units of this layer.
    activation : str or Activation, default "relu"
        σ; one of ``deltaprop.activations.ACTIVATIONS``.
    init : str, optional
        ``"glorot_uniform"``, ``"glorot_normal"``, ``"he_uniform"`` or ``"he_normal"``. By default
        He normal for the ReLU family, Glorot uniform otherwise.
    dropout : float, default 0.0
        Probability of zeroing each of this layer's outputs during training (inverted dropout:
        kept outputs are scaled by 1/(1 - dropout), so nothing changes at inference).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str | Activation | None = "relu",
        init: str | None = None,
        dropout: float = 0.0,
    ):
        self.n_in = check_positive("n_in", n_in, integer=True)
        self.n_out = check_positive("n_out", n_out, integer=True)
        self.activation = get_activation(activation)
        if init is None:
            init = "he_normal" if self.activation.name in RELU_FAMILY else "glorot_uniform"
        if init not in INITIALIZERS:
            raise ValidationError(
                f"unknown init {init!r}{closest(init, INITIALIZERS)}; "
                f"choose one of {', '.join(INITIALIZERS)}"
            )
        self.init = init
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValidationError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self._weights: np.ndarray | None = None
        self._bias: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray | None:
        """W^l, shape ``(n_out, n_in)``; ``None`` until the layer is part of a network.

        In a network it is a view of the network's parameter vector: assigning an array
        copies the values into that view, so the vector always holds them.
        """
        return self._weights

    @weights.setter
    def weights(self, value: np.ndarray) -> None:
        self._weights = self._assigned(self._weights, "weights", value, (self.n_out, self.n_in))

    @property
    def bias(self) -> np.ndarray | None:
        """b^l, shape ``(n_out,)``; ``None`` until the layer is part of a network (then a view
        of its parameter vector, like ``weights``)."""
        return self._bias

    @bias.setter
    def bias(self, value: np.ndarray) -> None:
        self._bias = self._assigned(self._bias, "bias", value, (self.n_out,))

    def _assigned(self, current, name: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
        """The array ``weights`` or ``bias`` holds after assigning ``value`` to it: the current
        array with the values written in, or a new array when the layer had none yet."""
        checked = self._checked(name, value, shape)
        if current is None:
            return checked
        current[...] = checked
        return current

    @property
    def dtype(self) -> np.dtype | None:
        return None if self._weights is None else self._weights.dtype

    def _checked(self, name: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
        """Return ``value`` as a fresh C-contiguous array of ``shape`` in the layer's dtype."""
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise DeltapropTypeError(f"{name} must be a numeric array: {error}") from None
        if array.dtype.kind not in "fiu":
            raise DeltapropTypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
        if array.shape != shape:
            raise ValidationError(
                f"{name} must have shape {shape} (n_out={self.n_out}, n_in={self.n_in}), "
                f"got {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ValidationError(f"{name} contains NaN or infinite values")
        dtype = self.dtype or (array.dtype if array.dtype.kind == "f" else np.float32)
        return np.array(array, dtype=dtype, order="C")

    def build(self, rng: np.random.Generator, dtype: np.dtype) -> None:
        """Draw W^l from the layer's initializer and set b^l = 0, both in ``dtype``.

        Parameters a user set before the network was built are kept (cast to ``dtype``).
        """
        weights = self._weights
        if weights is None:
            weights = INITIALIZERS[self.init](rng, self.n_in, self.n_out)
        bias = np.zeros(self.n_out) if self._bias is None else self._bias
        self._weights = np.array(weights, dtype=dtype, order="C")
        self._bias = np.array(bias, dtype=dtype, order="C")

    def _bind(self, weights: np.ndarray, bias: np.ndarray) -> None:
        """Make ``weights`` and ``bias`` these views (of a network's parameter vector), which
        already hold the layer's values."""
        self._weights, self._bias = weights, bias

    def config(self) -> dict:
        """The constructor arguments that rebuild this layer (model files store them)."""
        return {
            "n_in": self.n_in,
            "n_out": self.n_out,
            "activation": self.activation.name,
            "activation_config": self.activation.config(),
            "init": self.init,
            "dropout": self.dropout,
        }

    def __repr__(self) -> str:
        extra = f", dropout={self.dropout}" if self.dropout else ""
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation.name!r}{extra})"
