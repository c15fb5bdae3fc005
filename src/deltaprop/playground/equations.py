"""The seed's equations as TeX, with the numbers of a ``deltaprop.explain`` record plugged in.

``unit_equations`` writes the four equations for one unit and one sample, and the table of each
gradient beside its central-difference estimate; ``step_phases`` writes one SGD step on a batch
as phases (each layer forward, the loss, each δ^l backwards, the update). Every number is read
from the ``Explanation`` or the library's own activation and loss objects; this module only
formats. Layers are numbered as in the seed, l = 1..L, units j and inputs k from 1.
"""

from __future__ import annotations

import math

import numpy as np

from ..explain import Explanation
from ..explain_format import LOSS_LATEX
from ..network import Network

SIGMA = {
    "identity": r"\mathrm{id}",
    "sigmoid": r"\mathrm{sigmoid}",
    "tanh": r"\tanh",
    "relu": r"\mathrm{ReLU}",
    "leaky_relu": r"\mathrm{LeakyReLU}",
    "elu": r"\mathrm{ELU}",
    "gelu": r"\mathrm{GELU}",
    "softplus": r"\mathrm{softplus}",
    "softmax": r"\mathrm{softmax}",
}
DL = r"\partial \mathcal{L}"  # ∂L, the numerator of every gradient
FUSED = ("cross_entropy", "binary_cross_entropy")  # δ^L = (a^L − y)/N: the loss and σ cancel


def tex(value: float) -> str:
    """A number in TeX, four significant digits, negatives in parentheses where multiplied."""
    if not math.isfinite(value):
        return r"\mathrm{NaN}"
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa}\times 10^{{{int(exponent)}}}"
    return text


def _factor(value: float) -> str:
    return f"({tex(value)})" if value < 0 or "times" in tex(value) else tex(value)


def _vector(values: np.ndarray) -> str:
    return r"\begin{bmatrix}" + r" \\ ".join(tex(v) for v in values) + r"\end{bmatrix}"


def _row(values: np.ndarray) -> str:
    return r"\begin{bmatrix}" + " & ".join(tex(v) for v in values) + r"\end{bmatrix}"


def _matrix(values: np.ndarray) -> str:
    rows = [" & ".join(tex(v) for v in row) for row in values]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def _plain(value: float) -> str:
    """Six significant digits, for the check table (tests compare these with the library)."""
    return "—" if math.isnan(value) else f"{value:.6g}"


def unit_equations(network: Network, record: Explanation, layer: int, unit: int) -> dict:
    """The equations of unit ``unit`` (1-based) of layer ``layer`` (1..L) for sample 0 of
    ``record``, and its gradient check rows. ``record`` is ``explain`` of ``network``."""
    L = len(record.layers)
    here = record.layers[layer - 1]
    j = unit - 1
    below = record.x[0] if layer == 1 else record.layers[layer - 2].a[0]
    a_name = "x" if layer == 1 else f"a^{{{layer - 1}}}"
    weights, bias, z, a = here.weights[j], here.bias[j], here.z[0, j], here.a[0, j]
    delta = here.delta[0, j]
    lines = []
    terms = " + ".join(f"{_factor(w)} \\cdot {_factor(x)}" for w, x in zip(weights, below))
    lines.append(
        rf"z^{{{layer}}}_{{{unit}}} = \sum_k W^{{{layer}}}_{{{unit}k}}\, {a_name}_k + "
        rf"b^{{{layer}}}_{{{unit}}} = {terms} + {_factor(bias)} = {tex(z)}"
    )
    sigma = SIGMA.get(here.activation, here.activation)
    lines.append(
        rf"a^{{{layer}}}_{{{unit}}} = \sigma(z^{{{layer}}}_{{{unit}}}) = "
        rf"{sigma}({tex(z)}) = {tex(a)}"
    )
    activation = network.layers[layer - 1].activation
    if layer == L and record.loss_name in FUSED:
        y = _target(record, j)
        lines.append(
            rf"\delta^{{L}}_{{{unit}}} = \frac{{{DL}}}{{\partial z^{{L}}_{{{unit}}}}} "
            rf"= a^{{L}}_{{{unit}}} - y_{{{unit}}} = {tex(a)} - {_factor(y)} = {tex(delta)}"
        )
    elif layer == L:
        grad_a = network.loss.gradient(here.a[:1], record.targets[:1])[0, j]
        prime = activation.prime(here.z[:1], here.a[:1])[0, j]
        lines.append(
            rf"\delta^{{L}}_{{{unit}}} = \frac{{{DL}}}{{\partial a^{{L}}_{{{unit}}}}}"
            rf"\,\sigma'(z^{{L}}_{{{unit}}}) = {_factor(grad_a)}\,{_factor(prime)} = {tex(delta)}"
        )
    else:
        above = record.layers[layer]
        prime = activation.prime(here.z[:1], here.a[:1])[0, j]
        back = " + ".join(
            f"{_factor(w)} \\cdot {_factor(d)}" for w, d in zip(above.weights[:, j], above.delta[0])
        )
        lines.append(
            rf"\delta^{{{layer}}}_{{{unit}}} = \Big(\sum_i W^{{{layer + 1}}}_{{i{unit}}}\, "
            rf"\delta^{{{layer + 1}}}_i\Big)\, \sigma'(z^{{{layer}}}_{{{unit}}}) = "
            rf"\big({back}\big)\,{_factor(prime)} = {tex(delta)}"
        )
    grads = here.grad_weights[j]
    lines.append(
        rf"\frac{{{DL}}}{{\partial W^{{{layer}}}_{{{unit}k}}}} = "
        rf"\delta^{{{layer}}}_{{{unit}}}\, {a_name}_k = {_factor(delta)}\,{_row(below)} = "
        rf"{_row(grads)}"
    )
    lines.append(
        rf"\frac{{{DL}}}{{\partial b^{{{layer}}}_{{{unit}}}}} = "
        rf"\delta^{{{layer}}}_{{{unit}}} = {tex(here.grad_bias[j])}"
    )
    lines.append(
        rf"W^{{{layer}}}_{{{unit}k}} \leftarrow W^{{{layer}}}_{{{unit}k}} - \eta\, "
        rf"\frac{{{DL}}}{{\partial W^{{{layer}}}_{{{unit}k}}}} = {_row(weights)} - "
        rf"{tex(record.lr)}\,{_row(grads)} = {_row(here.new_weights[j])}"
    )
    checks = [
        _check(f"W^{{{layer}}}_{{{unit}{k + 1}}}", grads[k], here.numeric_weights[j, k])
        for k in range(len(grads))
    ]
    checks.append(_check(f"b^{{{layer}}}_{{{unit}}}", here.grad_bias[j], here.numeric_bias[j]))
    return {"layer": layer, "unit": unit, "latex": lines, "checks": checks, "loss": record.loss}


def _target(record: Explanation, j: int) -> float:
    targets = record.targets[0]
    if np.ndim(targets) == 0:  # cross-entropy keeps a class label
        return float(int(targets) == j)
    return float(targets[j])


def _check(name: str, analytic: float, numeric: float) -> dict:
    scale = max(abs(analytic), abs(numeric), 1e-12)
    error = abs(analytic - numeric) / scale if not math.isnan(numeric) else math.nan
    return {
        "name": name,
        "analytic": _plain(float(analytic)),
        "numeric": _plain(float(numeric)),
        "error": "—" if math.isnan(error) else f"{error:.1e}",
    }


def step_phases(network: Network, record: Explanation) -> list[dict]:
    """One SGD step on ``record``'s batch as phases to play one after the other.

    Each phase has ``kind`` (forward, loss, backward, update), ``layer`` and ``latex`` lines;
    ``values`` gives the numbers to show on the layer's units (sample 1 of the batch).
    """
    L, phases = len(record.layers), []
    for here in record.layers:
        n, below = (
            here.index,
            record.x[0] if here.index == 1 else record.layers[here.index - 2].a[0],
        )
        sigma = SIGMA.get(here.activation, here.activation)
        phases.append(
            {
                "kind": "forward",
                "layer": n,
                "values": here.a[0].tolist(),
                "latex": [
                    rf"z^{{{n}}} = W^{{{n}}} a^{{{n - 1}}} + b^{{{n}}} = {_matrix(here.weights)}"
                    rf"{_vector(below)} + {_vector(here.bias)} = {_vector(here.z[0])}",
                    rf"a^{{{n}}} = {sigma}(z^{{{n}}}) = {_vector(here.a[0])}",
                ],
            }
        )
    phases.append(
        {
            "kind": "loss",
            "layer": L,
            "values": record.layers[-1].a[0].tolist(),
            "latex": [
                LOSS_LATEX.get(record.loss_name, r"\mathcal{L}")
                + rf" = {tex(record.loss)} \quad (N = {record.n_samples})"
            ],
        }
    )
    for here in reversed(record.layers):
        n = here.index
        below = record.x if n == 1 else record.layers[n - 2].a
        if n == L:
            first = rf"\delta^{{L}} = \frac{{{DL}}}{{\partial z^{{L}}}} = {_vector(here.delta[0])}"
        else:
            first = (
                rf"\delta^{{{n}}} = \big((W^{{{n + 1}}})^T \delta^{{{n + 1}}}\big) \odot "
                rf"\sigma'(z^{{{n}}}) = {_vector(here.delta[0])}"
            )
        phases.append(
            {
                "kind": "backward",
                "layer": n,
                "values": here.delta[0].tolist(),
                "latex": [
                    first,
                    rf"\frac{{{DL}}}{{\partial W^{{{n}}}}} = \sum_s \delta^{{{n}}}_s "
                    rf"(a^{{{n - 1}}}_s)^T = {_matrix(here.grad_weights)}"
                    + (
                        ""
                        if len(below) == 1
                        else rf" \quad (\text{{summed over {len(below)} samples}})"
                    ),
                ],
            }
        )
    phases.append(
        {
            "kind": "update",
            "layer": 0,
            "values": [],
            "weights": [here.new_weights.tolist() for here in record.layers],
            "latex": [
                rf"W^{{{here.index}}} \leftarrow W^{{{here.index}}} - {tex(record.lr)}\, "
                rf"\frac{{{DL}}}{{\partial W^{{{here.index}}}}} = "
                rf"{_matrix(here.new_weights)}"
                for here in record.layers
            ]
            + [rf"\mathcal{{L}}: {tex(record.loss)} \to {tex(record.loss_after)}"],
        }
    )
    return phases
