"""Print an ``Explanation`` as plain text (``format_text``) or Markdown (``format_markdown``).

Both use the seed's column notation: a sample is a column vector, a batch of N samples is a
matrix of N columns, so ``∂L/∂W^l = δ^l (a^(l-1))^T`` reads as the matrix product it is (the
product sums over the batch). The record holds rows, as the library computes; the transposes
happen here. Small arrays are printed in full; large ones are summarised by shape, norm, min and
max, so that a 784-input network stays readable.
"""

from __future__ import annotations

import math
from string import Template
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .explain import Explanation, LayerExplanation

MAX_ROWS = 12  # larger arrays are summarised
MAX_COLS = 10
MAX_SAMPLES_SHOWN = 4  # Markdown neuron tables show at most this many sample columns

LOSS_TEXT = {
    "mse": "L = 1/(N·n) Σ (a^L − y)²",
    "mae": "L = 1/(N·n) Σ |a^L − y|",
    "huber": "L = 1/(N·n) Σ huber(a^L − y)",
    "binary_cross_entropy": "L = −1/(N·n) Σ [y log a^L + (1 − y) log(1 − a^L)]",
    "cross_entropy": "L = −1/N Σ_s log a^L_(y_s)",
}
LOSS_LATEX = {
    "mse": r"\mathcal{L} = \frac{1}{N n_L} \sum_{s,i} \left(a^{L}_{i,s} - y_{i,s}\right)^2",
    "mae": r"\mathcal{L} = \frac{1}{N n_L} \sum_{s,i} \left|a^{L}_{i,s} - y_{i,s}\right|",
    "huber": r"\mathcal{L} = \frac{1}{N n_L} \sum_{s,i} \mathrm{huber}(a^{L}_{i,s} - y_{i,s})",
    "binary_cross_entropy": r"\mathcal{L} = -\frac{1}{N n_L} \sum_{s,i} \left[y_{i,s} \log "
    r"a^{L}_{i,s} + (1 - y_{i,s}) \log(1 - a^{L}_{i,s})\right]",
    "cross_entropy": r"\mathcal{L} = -\frac{1}{N} \sum_{s} \log a^{L}_{y_s,s}",
}
OUTPUT_GRADIENT_TEXT = {
    "mse": "∂L/∂a^L = 2(a^L − y)/(N·n)",
    "mae": "∂L/∂a^L = sign(a^L − y)/(N·n)",
    "huber": "∂L/∂a^L = clip(a^L − y, ±huber delta)/(N·n)",
}


# ------------------------------------------------------------------------ numbers
def _number_format(values: np.ndarray):
    """One format for a whole array, so that its columns line up.

    Fixed point with enough decimals for four significant digits of the largest entry (4 to 6
    decimals), scientific notation for arrays whose entries are all tiny or huge.
    """
    finite = np.abs(values[np.isfinite(values)])
    scale = float(finite.max()) if finite.size else 0.0
    if scale == 0 or 1e-3 <= scale < 1e5:
        decimals = 4 if scale == 0 else min(max(3 - math.floor(math.log10(scale)), 4), 6)
        pattern = f"{{:.{decimals}f}}"
    else:
        pattern = "{:.3e}"

    def number(value: float) -> str:
        return "·" if np.isnan(value) else pattern.format(value)

    return number


def _summary(values: np.ndarray) -> str:
    shape = "×".join(str(n) for n in values.shape)
    finite = values[np.isfinite(values)]
    return (
        f"({shape}) ‖·‖ = {np.linalg.norm(finite):.4g}, "
        f"min {finite.min():.4g}, max {finite.max():.4g}"
    )


def _too_large(matrix: np.ndarray) -> bool:
    return matrix.shape[0] > MAX_ROWS or matrix.shape[1] > MAX_COLS


def _columns(rows: np.ndarray) -> np.ndarray:
    """Samples as columns: ``(N, n)`` becomes ``(n, N)``; a bias ``(n,)`` becomes ``(n, 1)``."""
    return rows.reshape(-1, 1) if rows.ndim == 1 else rows.T


# ------------------------------------------------------------------------ text
def _text_block(label: str, matrix: np.ndarray, indent: str = "  ") -> list[str]:
    """``label = matrix`` as text lines; a single column prints as one transposed row."""
    head = f"{indent}{label} = "
    if matrix.shape[1] == 1 and matrix.shape[0] <= MAX_ROWS * 2:
        number = _number_format(matrix)
        return [head + "[" + "  ".join(number(v) for v in matrix[:, 0]) + "]ᵀ"]
    if _too_large(matrix):
        return [head + _summary(matrix)]
    number = _number_format(matrix)
    cells = [[number(v) for v in row] for row in matrix]
    width = max(len(cell) for row in cells for cell in row)
    lines = ["[" + "  ".join(cell.rjust(width) for cell in row) + "]" for row in cells]
    return [head + lines[0]] + [" " * len(head) + line for line in lines[1:]]


def _text_check(numeric: np.ndarray, error: float) -> list[str]:
    """The central-difference estimate of a gradient (printed as the gradient is) and the error."""
    checked = int(np.count_nonzero(~np.isnan(numeric)))
    if checked == numeric.size and not _too_large(numeric):
        block = _text_block("central difference", numeric, indent="      ")
        block[-1] += f"   relative error {error:.1e}"
        return block
    return [
        f"      central difference on {checked:,} of {numeric.size:,} entries: "
        f"relative error {error:.1e}"
    ]


def _delta_text(record: Explanation, layer: LayerExplanation) -> tuple[str, list[str]]:
    """The equation that gives δ^l, and a note on ∂L/∂a^L where the output needs one."""
    k = layer.index
    if k < len(record.layers):
        return f"δ^{k} = ((W^{k + 1})^T δ^{k + 1}) ⊙ σ'(z^{k})", []
    if record.loss_name == "cross_entropy":
        return f"δ^{k} = (a^{k} − y)/N", ["      (softmax with cross-entropy, fused: no σ' needed)"]
    if record.loss_name == "binary_cross_entropy":
        return f"δ^{k} = (a^{k} − y)/(N·n)", [
            "      (sigmoid with binary cross-entropy, fused: no σ' needed)"
        ]
    note = OUTPUT_GRADIENT_TEXT.get(record.loss_name, f"∂L/∂a^{k}").replace("^L", f"^{k}")
    if layer.activation == "softmax":
        return f"δ^{k} = J_softmax(z^{k})^T ∂L/∂a^{k}", [f"      where {note}"]
    return f"δ^{k} = ∂L/∂a^{k} ⊙ σ'(z^{k})", [f"      where {note}"]


def format_text(record: Explanation) -> str:
    """The explanation as plain text: forward pass, loss, backward pass and one SGD step."""
    activations = " → ".join(layer.activation for layer in record.layers)
    samples = "1 sample" if record.n_samples == 1 else f"{record.n_samples} samples"
    lines = [
        f"network {'-'.join(map(str, record.sizes))} ({activations}), loss {record.loss_name}, "
        f"{record.dtype}, {samples}",
        "Vectors are columns, one per sample, as in the seed; ᵀ marks a transpose.",
        "",
        "forward pass:  z^l = W^l a^(l-1) + b^l,  a^l = σ(z^l)",
        *_text_block("a^0 = x", _columns(record.x)),
    ]
    for layer in record.layers:
        k = layer.index
        lines += [
            f"layer {k} ({layer.n_in} → {layer.n_out}, {layer.activation})",
            *_text_block(f"W^{k}", layer.weights),
            *_text_block(f"b^{k}", _columns(layer.bias)),
            *_text_block(f"z^{k} = W^{k} a^{k - 1} + b^{k}", _columns(layer.z)),
            *_text_block(f"a^{k} = {layer.activation}(z^{k})", _columns(layer.a)),
        ]
    if record.targets.ndim == 1:
        target_lines = [f"  y = class {', '.join(str(int(t)) for t in record.targets[:20])}"]
    else:
        target_lines = _text_block("y", _columns(record.targets))
    lines += [
        "",
        f"loss:  {LOSS_TEXT.get(record.loss_name, 'L')}",
        *target_lines,
        f"  L = {record.loss:.6g}",
        "",
        "backward pass:  ∂L/∂W^l = δ^l (a^(l-1))^T,  ∂L/∂b^l = δ^l (summed over samples)",
    ]
    bias_sum = "" if record.n_samples == 1 else "Σ_samples "
    for layer in reversed(record.layers):
        k = layer.index
        equation, note = _delta_text(record, layer)
        lines += [
            f"layer {k}",
            *_text_block(equation, _columns(layer.delta)),
            *note,
            *_text_block(f"∂L/∂W^{k} = δ^{k} (a^{k - 1})^T", layer.grad_weights),
            *_text_check(layer.numeric_weights, layer.weights_error),
            *_text_block(f"∂L/∂b^{k} = {bias_sum}δ^{k}", _columns(layer.grad_bias)),
            *_text_check(_columns(layer.numeric_bias), layer.bias_error),
        ]
    lines += [
        "",
        f"one SGD step:  W^l ← W^l − η ∂L/∂W^l,  b^l ← b^l − η ∂L/∂b^l,  η = {record.lr:g}",
    ]
    for layer in record.layers:
        lines += [
            *_text_block(f"W^{layer.index}", layer.new_weights),
            *_text_block(f"b^{layer.index}", _columns(layer.new_bias)),
        ]
    change = record.loss_after - record.loss
    lines += [
        f"  L before {record.loss:.6g} → after {record.loss_after:.6g} (change {change:+.3g})",
        "",
        f"largest relative error of a gradient against its central difference: "
        f"{record.max_error:.1e} ({record.dtype} gradients, five-point differences in extended "
        f"precision, ε = {record.eps:g})",
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ Markdown
def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _summary_table(named: list[tuple[str, np.ndarray]]) -> list[str]:
    rows = []
    for name, values in named:
        finite = values[np.isfinite(values)]
        shape = "×".join(str(n) for n in values.shape)
        rows.append(
            [
                name,
                shape,
                f"{np.linalg.norm(finite):.4g}",
                f"{finite.min():.4g}",
                f"{finite.max():.4g}",
            ]
        )
    return _table(["", "shape", "norm", "min", "max"], rows)


def _matrix_table(matrix: np.ndarray, numeric: np.ndarray | None = None) -> list[str]:
    """A matrix as a table, each entry followed by its central difference in parentheses."""
    number = _number_format(matrix)
    estimate = _number_format(numeric) if numeric is not None else None
    header = [""] + [f"j={j + 1}" for j in range(matrix.shape[1])]
    rows = []
    for i, row in enumerate(matrix):
        cells = [number(v) for v in row]
        if numeric is not None:
            cells = [f"{c} ({estimate(n)})" for c, n in zip(cells, numeric[i])]
        rows.append([f"i={i + 1}", *cells])
    return _table(header, rows)


def _vector_table(columns: list[tuple[str, np.ndarray]]) -> list[str]:
    """Neuron-by-neuron table; each named entry is ``(n, N)`` and gives one column per sample."""
    header, data = ["i"], []
    for name, matrix in columns:
        shown = matrix[:, :MAX_SAMPLES_SHOWN]
        for s in range(shown.shape[1]):
            header.append(name if matrix.shape[1] == 1 else f"{name} (sample {s + 1})")
            data.append((_number_format(shown), shown[:, s]))
    rows = [
        [str(i + 1)] + [number(values[i]) for number, values in data]
        for i in range(len(data[0][1]))
    ]
    return _table(header, rows)


def _neuron_section(columns: list[tuple[str, np.ndarray]]) -> list[str]:
    if columns[0][1].shape[0] > MAX_ROWS * 2:
        return _summary_table(columns)
    return _vector_table(columns)


def _weights_section(name: str, matrix: np.ndarray, numeric: np.ndarray | None = None) -> list[str]:
    if _too_large(matrix):
        return _summary_table([(name, matrix)])
    return _matrix_table(matrix, numeric)


DELTA_LATEX = {
    "hidden": r"\delta^{$l} = \left((W^{$next})^{T} \delta^{$next}\right) \odot \sigma'(z^{$l})",
    "cross_entropy": r"\delta^{$l} = \frac{1}{N}\left(a^{$l} - y\right)",
    "binary_cross_entropy": r"\delta^{$l} = \frac{1}{N n_L}\left(a^{$l} - y\right)",
    "softmax": r"\delta^{$l} = J_{\mathrm{softmax}}(z^{$l})^{T} "
    r"\frac{\partial \mathcal{L}}{\partial a^{$l}}",
    "output": r"\delta^{$l} = \frac{\partial \mathcal{L}}{\partial a^{$l}} \odot \sigma'(z^{$l})",
}


def _delta_latex(record: Explanation, layer: LayerExplanation) -> str:
    if layer.index < len(record.layers):
        key = "hidden"
    elif record.loss_name in ("cross_entropy", "binary_cross_entropy"):
        key = record.loss_name
    else:
        key = "softmax" if layer.activation == "softmax" else "output"
    return Template(DELTA_LATEX[key]).substitute(l=layer.index, next=layer.index + 1)


def _targets_section(record: Explanation) -> list[str]:
    if record.targets.ndim == 2:
        return _neuron_section([("aᴸ", _columns(record.output)), ("y", _columns(record.targets))])
    rows = [[str(s + 1), str(int(t))] for s, t in enumerate(record.targets)]
    return _neuron_section([("aᴸ", _columns(record.output))]) + _table(["sample", "class y"], rows)


def format_markdown(record: Explanation) -> str:
    """The explanation as a Markdown document: LaTeX equations (``$$...$$``), numbers in tables."""
    activations = ", ".join(layer.activation for layer in record.layers)
    loss_latex = LOSS_LATEX.get(record.loss_name, r"\mathcal{L}")
    lines = [
        "# Backpropagation, step by step",
        "",
        f"Network {'-'.join(map(str, record.sizes))} ({activations}), loss `{record.loss_name}`, "
        f"{record.dtype}, {record.n_samples} sample{'s' if record.n_samples > 1 else ''}, "
        f"learning rate η = {record.lr:g}. Vectors are columns, one per sample, as in the seed; "
        f"every number below is the one deltaprop computes.",
        "",
        "## Forward pass",
        "",
        r"$$z^{l} = W^{l} a^{l-1} + b^{l}, \qquad a^{l} = \sigma(z^{l}), \qquad a^{0} = x$$",
        "",
        "### Input",
        "",
        *_neuron_section([("a⁰ = x", _columns(record.x))]),
    ]
    for layer in record.layers:
        k = layer.index
        lines += [
            f"### Layer {k}: {layer.n_in} → {layer.n_out}, {layer.activation}",
            "",
            f"Weights $W^{{{k}}}$ (row i: neuron i of layer {k}; "
            f"column j: unit j of layer {k - 1}):",
            "",
            *_weights_section(f"W^{k}", layer.weights),
            *_neuron_section(
                [("b", _columns(layer.bias)), ("z", _columns(layer.z)), ("a", _columns(layer.a))]
            ),
        ]
    lines += [
        "## Loss",
        "",
        f"$${loss_latex} = {record.loss:.6g}$$",
        "",
        *_targets_section(record),
        "## Backward pass",
        "",
        r"$$\frac{\partial \mathcal{L}}{\partial W^{l}} = \delta^{l} (a^{l-1})^{T}, \qquad "
        r"\frac{\partial \mathcal{L}}{\partial b^{l}} = \delta^{l} \quad "
        r"\text{(summed over the samples)}$$",
        "",
        f"Each gradient is followed by its five-point central-difference estimate, in extended "
        f"precision with ε = {record.eps:g} (in parentheses, or in its own column).",
        "",
    ]
    for layer in reversed(record.layers):
        k = layer.index
        lines += [
            f"### Layer {k}",
            "",
            f"$${_delta_latex(record, layer)}$$",
            "",
            *_neuron_section(
                [
                    ("δ", _columns(layer.delta)),
                    ("∂L/∂b", _columns(layer.grad_bias)),
                    ("central difference", _columns(layer.numeric_bias)),
                ]
            ),
            f"$\\partial \\mathcal{{L}} / \\partial W^{{{k}}}$:",
            "",
            *_weights_section(f"∂L/∂W^{k}", layer.grad_weights, layer.numeric_weights),
            f"Relative error against the central differences: ∂L/∂W {layer.weights_error:.1e} "
            f"({layer.checked_weights:,} of {layer.grad_weights.size:,} entries), "
            f"∂L/∂b {layer.bias_error:.1e} ({layer.checked_bias:,} of {layer.grad_bias.size:,}).",
            "",
        ]
    lines += [
        "## One SGD step",
        "",
        r"$$W^{l} \leftarrow W^{l} - \eta \frac{\partial \mathcal{L}}{\partial W^{l}}, \qquad "
        r"b^{l} \leftarrow b^{l} - \eta \frac{\partial \mathcal{L}}{\partial b^{l}}, \qquad "
        rf"\eta = {record.lr:g}$$",
        "",
    ]
    for layer in record.layers:
        lines += [
            f"New $W^{{{layer.index}}}$:",
            "",
            *_weights_section(f"W^{layer.index}", layer.new_weights),
            *_neuron_section([(f"new b^{layer.index}", _columns(layer.new_bias))]),
        ]
    lines += _table(
        ["", "loss"],
        [
            ["before the step", f"{record.loss:.6g}"],
            ["after the step", f"{record.loss_after:.6g}"],
            ["change", f"{record.loss_after - record.loss:+.3g}"],
        ],
    )
    return "\n".join(lines)
