"""Check ``Network.gradients`` against central finite differences, layer by layer.

For each parameter θ the numerical estimate is the five-point central difference
``(8(L(θ+ε) - L(θ-ε)) - (L(θ+2ε) - L(θ-2ε))) / 12ε``, computed on a copy
of the network in extended precision (``np.longdouble``; float32 has too few digits for
differences to mean anything), while the analytic gradients come from a float64 copy. The
reported error of an array is its largest absolute difference divided by its largest gradient
(see ``relative_error``); a correct backward pass gives about 1e-9 in float64. A ReLU or MAE
kink that lies within 2ε of a sample's value is not differentiable there and can spoil an entry:
check with random non-zero biases, or a smaller ``eps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network
from .validation import check_inputs, check_positive, check_targets

# Gradient arrays whose largest entry is below this count as zero: their float64 rounding
# (about 1e-16 per term) is then compared with this floor instead of with nothing.
TINY = 1e-8


@dataclass
class LayerCheck:
    """Largest relative errors of one layer's weight and bias gradients."""

    index: int
    weights_error: float
    bias_error: float
    checked: int

    @property
    def max_error(self) -> float:
        return max(self.weights_error, self.bias_error)


@dataclass
class GradcheckReport:
    """Per-layer results; ``passed`` when every error is below ``tolerance``."""

    layers: list[LayerCheck]
    tolerance: float
    eps: float

    @property
    def max_error(self) -> float:
        return max(layer.max_error for layer in self.layers)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tolerance

    def __str__(self) -> str:
        lines = [f"{'layer':>5}  {'dW rel. error':>13}  {'db rel. error':>13}  checked  result"]
        for layer in self.layers:
            verdict = "pass" if layer.max_error < self.tolerance else "FAIL"
            lines.append(
                f"{layer.index + 1:>5}  {layer.weights_error:>13.2e}  {layer.bias_error:>13.2e}"
                f"  {layer.checked:>7}  {verdict}"
            )
        overall = "PASS" if self.passed else "FAIL"
        lines.append(
            f"max relative error {self.max_error:.2e} (tolerance {self.tolerance:.0e}): {overall}"
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter shows a table per layer with a pass/fail mark (``display.py``)."""
        from .display import gradcheck_html

        return gradcheck_html(self)


def gradcheck(
    network: Network,
    X: np.ndarray,
    y: np.ndarray,
    eps: float = 1e-5,
    tolerance: float = 1e-6,
    max_checks_per_layer: int | None = None,
    seed: int = 0,
) -> GradcheckReport:
    """Compare ``network.gradients(X, y)`` with central differences on a float64 copy.

    Parameters
    ----------
    X : ndarray, shape (N, n_in)
    y : ndarray, shape (N,) or (N, n_out)
    eps : float
        Step of the central difference.
    tolerance : float
        Largest relative error that passes.
    max_checks_per_layer : int, optional
        Check at most this many entries of each weight matrix and bias, drawn with ``seed``
        (every entry when ``None``): a 784x256 layer has 200,704 weights.
    """
    eps = check_positive("eps", eps)
    if max_checks_per_layer is not None:
        check_positive("max_checks_per_layer", max_checks_per_layer, integer=True)
    clone = network.copy(dtype="float64")
    X = check_inputs(X, clone.n_in, clone.dtype)
    targets = check_targets(y, len(X), clone.n_out, clone.loss, clone.dtype)
    _, analytic = clone.passes.backprop(X, targets)[:2]
    extended, X_ext, targets_ext = _extended_copy(clone, X, targets)
    rng = np.random.default_rng(seed)
    results = []
    for index, (layer, (dW, db)) in enumerate(zip(extended.layers, analytic)):
        errors, checked = [], 0
        for param, grad in ((layer.weights, dW), (layer.bias, db)):
            positions = _positions(param.size, max_checks_per_layer, rng)
            numeric = np.array(
                [
                    _central_difference(extended, X_ext, targets_ext, param, i, eps)
                    for i in positions
                ],
                dtype=np.float64,
            )
            exact = grad.ravel()[positions]
            errors.append(relative_error(exact, numeric))
            checked += len(positions)
        results.append(LayerCheck(index, errors[0], errors[1], checked))
    return GradcheckReport(results, tolerance, eps)


def relative_error(exact: np.ndarray, numeric: np.ndarray) -> float:
    """``max |exact - numeric| / max(|exact|, |numeric|)`` over one parameter array.

    Each entry's error is measured against the array's largest gradient, not against the entry
    itself: an entry that is exactly 0 (a dead ReLU) has a finite difference of pure rounding
    noise, around 1e-12, whose ratio to 0 says nothing about the backward pass.
    """
    scale = max(float(np.max(np.abs(exact))), float(np.max(np.abs(numeric))), TINY)
    return float(np.max(np.abs(exact - numeric))) / scale


def _extended_copy(network: Network, X: np.ndarray, targets: np.ndarray):
    """The network, inputs and float targets in ``np.longdouble`` for the finite differences.

    On x86 that is 80-bit extended precision: the rounding noise of a loss difference drops
    from about 1e-16·L/ε to 1e-19·L/ε, so even vanishing gradients are measured accurately.
    Where ``longdouble`` is plain float64 the check is simply float64.
    """
    extended = network.copy()
    extended._cast(np.dtype(np.longdouble))
    if targets.dtype.kind == "f":
        targets = targets.astype(np.longdouble)
    return extended, X.astype(np.longdouble), targets


def _positions(size: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or size <= limit:
        return np.arange(size)
    return np.sort(rng.choice(size, size=limit, replace=False))


def _central_difference(network, X, targets, param, flat_index, eps) -> float:
    """Five-point central difference (error O(ε⁴)), so that ε can be large enough for rounding
    in the loss (about 1e-16/ε) not to swamp small gradient entries."""
    flat = param.reshape(-1)
    original = flat[flat_index]
    losses = []
    for step in (2 * eps, eps, -eps, -2 * eps):
        flat[flat_index] = original + step
        losses.append(network.passes.loss(X, targets))
    flat[flat_index] = original
    far_plus, plus, minus, far_minus = losses
    return (8 * (plus - minus) - (far_plus - far_minus)) / (12 * eps)
