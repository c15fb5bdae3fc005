"""What deltaprop's objects show in Jupyter: HTML built here, called by their ``_repr_html_``.

IPython asks an object for ``_repr_html_`` (or ``_repr_markdown_``) when it displays it; the
classes define those as one-line calls to the functions below, so that nothing in the library
imports Jupyter and a plain ``repr`` stays what it was.

- ``Network``: a diagram of its layers (``svg.network_diagram``) and a table of shapes,
  parameters and dtype;
- ``History``: the loss and accuracy curves (``svg.line_chart``) and the per-epoch table;
- ``GradcheckReport``: a table per layer of the relative errors with a pass/fail mark.

(``Explanation`` shows itself as the Markdown of ``explain_format.format_markdown``.)

Every text is escaped and every tag closed: the HTML is also well-formed XML.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from .progress import format_logs, format_value
from .svg import Series, line_chart, network_diagram

if TYPE_CHECKING:
    from .gradcheck import GradcheckReport
    from .network import Network
    from .training import History

MAX_EPOCH_ROWS = 20  # a longer history shows its first and last epochs around an ellipsis
CELL = "padding:2px 8px;text-align:right"
PASS, FAIL = "#1e7b34", "#b3261e"


def table(header: Sequence[str], rows: Sequence[Sequence[str | tuple[str, str]]]) -> str:
    """An HTML table; a cell is its text (escaped here) or ``(text, extra CSS of the cell)``."""

    def cell(tag: str, content: str | tuple[str, str]) -> str:
        words, style = (content, "") if isinstance(content, str) else content
        return f'<{tag} style="{CELL}{style}">{escape(words)}</{tag}>'

    head = "".join(cell("th", name) for name in header)
    body = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    return (
        f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def paragraph(words: str) -> str:
    return f"<p>{escape(words)}</p>"


def block(*parts: str) -> str:
    return '<div class="deltaprop">' + "".join(parts) + "</div>"


# ------------------------------------------------------------------------ Network
def network_html(network: Network) -> str:
    """The diagram of ``network``'s layers and a table of their shapes and parameters."""
    layers = network.layers
    diagram = network_diagram(
        [layer.weights for layer in layers],
        [layer.bias for layer in layers],
        [layer.activation.name for layer in layers],
    )
    rows = [
        [
            str(index),
            f"{layer.n_in:,} → {layer.n_out:,}",
            layer.activation.name,
            f"{layer.n_out} × {layer.n_in}",
            f"{layer.n_out}",
            f"{layer.dropout:g}" if layer.dropout else "–",
            f"{layer.weights.size + layer.bias.size:,}",
        ]
        for index, layer in enumerate(layers, start=1)
    ]
    trained = network.history.epochs if network.history is not None else 0
    summary = (
        f"Network {'-'.join(str(n) for n in network.sizes)}: loss {network.loss.name}, "
        f"{network.dtype.name}, {network.n_parameters():,} parameters, "
        + (f"trained {trained} epochs" if trained else "not trained")
    )
    header = ["layer", "inputs → units", "activation", "W", "b", "dropout", "parameters"]
    return block(paragraph(summary), f"<div>{diagram}</div>", table(header, rows))


# ------------------------------------------------------------------------ History
def history_html(history: History) -> str:
    """The training curves of ``history`` and one table row per epoch."""
    if not history.epochs:
        return block(paragraph("History: no epochs yet (train with fit)"))
    last = {key: values[-1] for key, values in history.metrics.items()}
    charts = [_chart(history, "loss", percent=False)]
    if history.accuracy:
        charts.append(_chart(history, "accuracy", percent=True))
    keys = list(history.metrics)
    epochs = list(range(history.epochs))
    if len(epochs) > MAX_EPOCH_ROWS:
        half = MAX_EPOCH_ROWS // 2
        epochs = [*epochs[:half], None, *epochs[-half:]]
    rows = [
        ["…"] * (len(keys) + 1)
        if epoch is None
        else [str(epoch + 1)] + [format_value(key, history[key][epoch]) for key in keys]
        for epoch in epochs
    ]
    return block(
        paragraph(f"History of {history.epochs} epochs; the last: {format_logs(last)}"),
        '<div style="display:flex;flex-wrap:wrap;gap:12px">' + "".join(charts) + "</div>",
        table(["epoch", *keys], rows),
    )


def _chart(history: History, key: str, percent: bool) -> str:
    series = [Series("training", history[key], "#1f77b4")]
    if f"val_{key}" in history:
        series.append(Series("validation", history[f"val_{key}"], "#ff7f0e", dashed=True))
    return line_chart(f"{key} per epoch", series, percent=percent)


# ------------------------------------------------------------------------ GradcheckReport
def gradcheck_html(report: GradcheckReport) -> str:
    """One row per layer: the relative errors of ∂L/∂W and ∂L/∂b, entries checked, pass/fail."""
    rows = [
        [
            str(layer.index + 1),
            f"{layer.weights_error:.2e}",
            f"{layer.bias_error:.2e}",
            f"{layer.checked:,}",
            _verdict(layer.max_error < report.tolerance),
        ]
        for layer in report.layers
    ]
    summary = (
        f"gradcheck against central differences (ε = {report.eps:g}): largest relative error "
        f"{report.max_error:.2e}, tolerance {report.tolerance:.0e}: "
        + ("PASS" if report.passed else "FAIL")
    )
    header = ["layer", "∂L/∂W relative error", "∂L/∂b relative error", "entries", "result"]
    return block(paragraph(summary), table(header, rows))


def _verdict(passed: bool) -> tuple[str, str]:
    color, mark = (PASS, "✓ pass") if passed else (FAIL, "✗ FAIL")
    return mark, f";color:{color};font-weight:bold"
