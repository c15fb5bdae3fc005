"""Backpropagation with a network's own numbers: ``explain(network, x, y)``.

One forward pass, the loss, the backward pass (every δ^l and every gradient), each gradient's
central-difference estimate, and one SGD step, recorded as an ``Explanation``. The formatters in
``explain_format.py`` print it in the seed's column notation (``deltaprop explain`` does that).

Every number comes from the library's own code path: ``Network._forward``, ``Network._backward``
and the ``SGD`` optimizer, on the network in its own dtype; the central differences are
``gradcheck``'s five-point differences on an extended-precision copy. Dropout is off, as at
inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .explain_format import format_markdown, format_text
from .gradcheck import _central_difference, _extended_copy, _positions, relative_error
from .network import Network
from .optimizers import SGD
from .validation import check_inputs, check_positive, check_targets

__all__ = ["Explanation", "LayerExplanation", "explain", "format_markdown", "format_text"]


@dataclass
class LayerExplanation:
    """Everything backpropagation computes for layer ``index`` (l = 1..L).

    Row convention, as the library computes: ``z``, ``a`` and ``delta`` have shape
    ``(N, n_out)``, one row per sample; the formatters print their transposes (columns).
    ``numeric_weights``/``numeric_bias`` are NaN where no central difference was taken.
    """

    index: int
    activation: str
    weights: np.ndarray  # W^l before the step, (n_out, n_in)
    bias: np.ndarray  # b^l before the step, (n_out,)
    z: np.ndarray  # z^l = W^l a^(l-1) + b^l
    a: np.ndarray  # a^l = σ(z^l)
    delta: np.ndarray  # δ^l = ∂L/∂z^l
    grad_weights: np.ndarray  # ∂L/∂W^l = δ^l (a^(l-1))^T, summed over the batch
    grad_bias: np.ndarray  # ∂L/∂b^l = δ^l, summed over the batch
    numeric_weights: np.ndarray
    numeric_bias: np.ndarray
    weights_error: float  # gradcheck.relative_error of the checked entries
    bias_error: float
    new_weights: np.ndarray  # W^l − η ∂L/∂W^l
    new_bias: np.ndarray

    @property
    def n_in(self) -> int:
        return self.weights.shape[1]

    @property
    def n_out(self) -> int:
        return self.weights.shape[0]

    @property
    def checked_weights(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.numeric_weights)))

    @property
    def checked_bias(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.numeric_bias)))


@dataclass
class Explanation:
    """One forward pass, backward pass and SGD step of a network on a batch ``x``.

    ``x`` is a^0, shape ``(N, n_in)``; ``targets`` is y as the loss takes it: class labels
    ``(N,)`` for cross-entropy, otherwise ``(N, n_out)`` (labels become one-hot rows).
    """

    x: np.ndarray
    targets: np.ndarray
    loss_name: str
    output_activation: str
    dtype: str
    layers: list[LayerExplanation]
    loss: float
    lr: float
    loss_after: float
    eps: float

    @property
    def n_samples(self) -> int:
        return len(self.x)

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def output(self) -> np.ndarray:
        """a^L, shape ``(N, n_out)``."""
        return self.layers[-1].a

    @property
    def max_error(self) -> float:
        """Largest relative error between a gradient and its central-difference estimate."""
        return max(max(layer.weights_error, layer.bias_error) for layer in self.layers)

    def _repr_markdown_(self) -> str:
        """Jupyter shows the equations with the numbers, as ``explain --markdown`` writes them."""
        return format_markdown(self)


def explain(
    network: Network,
    x: np.ndarray,
    y: np.ndarray,
    lr: float = 0.1,
    eps: float = 1e-5,
    max_checks: int | None = 100,
    seed: int = 0,
) -> Explanation:
    """Record one step of backpropagation and SGD on ``x``, leaving ``network`` unchanged.

    Parameters
    ----------
    network : Network
    x : ndarray, shape (N, n_in) or (n_in,)
        A batch, or one sample.
    y : ndarray, shape (N,) or (N, n_out); a scalar or (n_out,) for one sample
        Class labels or targets, as ``Network.fit`` takes them.
    lr : float, default 0.1
        η of the SGD step ``W ← W − η ∂L/∂W``.
    eps : float, default 1e-5
        Step of the five-point central differences (in ``gradcheck``'s extended precision).
    max_checks : int or None, default 100
        Estimate at most this many entries of each weight matrix and bias (drawn with
        ``seed``); ``None`` estimates all of them.

    Returns
    -------
    Explanation
    """
    lr = check_positive("lr", lr)
    eps = check_positive("eps", eps)
    if max_checks is not None:
        check_positive("max_checks", max_checks, integer=True)
    x, y = _as_batch(x, y)
    X = check_inputs(x, network.n_in, network.dtype)
    targets = check_targets(y, len(X), network.n_out, network.loss, network.dtype)

    cache = network.passes.forward(X)
    loss = float(network.loss.value(cache.zs[-1], cache.output, targets))
    deltas: list[np.ndarray] = []
    gradients = network.passes.backward(cache, targets, deltas=deltas)
    numeric, errors = _central_differences(network, X, y, gradients, eps, max_checks, seed)

    stepped = network.copy()
    SGD(lr=lr).step(stepped.parameters(), [g.copy() for pair in gradients for g in pair])
    loss_after = float(stepped.passes.loss(X, targets))

    layers = [
        LayerExplanation(
            index=index + 1,
            activation=layer.activation.name,
            weights=layer.weights.copy(),
            bias=layer.bias.copy(),
            z=cache.zs[index],
            a=cache.activations[index],
            delta=deltas[index],
            grad_weights=gradients[index][0],
            grad_bias=gradients[index][1],
            numeric_weights=numeric[index][0],
            numeric_bias=numeric[index][1],
            weights_error=errors[index][0],
            bias_error=errors[index][1],
            new_weights=new_layer.weights.copy(),
            new_bias=new_layer.bias.copy(),
        )
        for index, (layer, new_layer) in enumerate(zip(network.layers, stepped.layers))
    ]
    return Explanation(
        x=X,
        targets=targets,
        loss_name=network.loss.name,
        output_activation=network.layers[-1].activation.name,
        dtype=network.dtype.name,
        layers=layers,
        loss=float(loss),
        lr=lr,
        loss_after=float(loss_after),
        eps=eps,
    )


def _as_batch(x: object, y: object) -> tuple[object, object]:
    """Turn one sample ``(n_in,)`` and its target (scalar or ``(n_out,)``) into a batch of 1."""
    if np.ndim(x) != 1:
        return x, y
    y = np.asarray(y)
    return np.asarray(x)[None, :], (y.reshape(1) if y.ndim == 0 else y.reshape(1, -1))


def _central_differences(network, X, y, gradients, eps, max_checks, seed):
    """Five-point estimates of every gradient, in gradcheck's extended precision, and their
    relative errors to ``gradients``."""
    clone = network.copy(dtype="float64")
    targets = check_targets(y, len(X), clone.n_out, clone.loss, clone.dtype)
    extended, X_ext, targets_ext = _extended_copy(clone, X.astype(np.float64), targets)
    rng = np.random.default_rng(seed)
    numeric, errors = [], []
    for layer, pair in zip(extended.layers, gradients):
        estimates, layer_errors = [], []
        for param, grad in zip((layer.weights, layer.bias), pair):
            positions = _positions(param.size, max_checks, rng)
            values = np.array(
                [
                    _central_difference(extended, X_ext, targets_ext, param, i, eps)
                    for i in positions
                ],
                dtype=np.float64,
            )
            estimate = np.full(param.size, np.nan)
            estimate[positions] = values
            estimates.append(estimate.reshape(param.shape))
            exact = grad.ravel()[positions].astype(np.float64)
            layer_errors.append(relative_error(exact, values))
        numeric.append(tuple(estimates))
        errors.append(tuple(layer_errors))
    return numeric, errors
