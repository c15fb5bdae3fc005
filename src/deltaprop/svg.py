"""Pictures as SVG text, for the rich displays in notebooks (``display.py`` puts them in HTML).

Two pictures, drawn with nothing but string formatting: a network's layers as columns of units
joined by their weights (``network_diagram``), and per-epoch values as line charts
(``line_chart``). Every piece of text is escaped and every element closed, so the result is
well-formed XML that a browser shows inline and ``xml.etree`` parses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

MAX_UNITS_DRAWN = 8  # a larger layer shows its first and last units around an ellipsis
UNIT_GAP = 26  # px between unit centres in a column
COLUMN_GAP = 120  # px between layer columns
RADIUS = 9
POSITIVE, NEGATIVE = "#c0392b", "#2e6da4"  # red and blue, as plots.py draws weights
FILL = {"input": "#e8e8e8", "hidden": "#d6e6f5", "output": "#fbe3c8"}
FONT = "font-family:sans-serif;font-size:11px"


def element(tag: str, content: str = "", **attributes: object) -> str:
    """``<tag a="v">content</tag>``; attribute names use ``_`` for ``-``, values are escaped.

    ``content`` is markup, inserted as it is: escape text with ``html.escape`` first.
    """
    attrs = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(str(value))}"'
        for name, value in attributes.items()
        if value is not None
    )
    return f"<{tag}{attrs}>{content}</{tag}>" if content else f"<{tag}{attrs}/>"


def text(x: float, y: float, words: str, **attributes: object) -> str:
    """An SVG ``<text>`` with ``words`` escaped."""
    return element("text", escape(words), x=f"{x:.1f}", y=f"{y:.1f}", style=FONT, **attributes)


def svg(width: float, height: float, body: Sequence[str], label: str) -> str:
    """A standalone ``<svg>`` of ``width`` × ``height`` px; ``label`` is its accessible name."""
    return element(
        "svg",
        element("title", escape(label)) + "".join(body),
        xmlns="http://www.w3.org/2000/svg",
        width=f"{width:.0f}",
        height=f"{height:.0f}",
        viewBox=f"0 0 {width:.0f} {height:.0f}",
        role="img",
    )


# ------------------------------------------------------------------------ network diagram
def shown_units(n: int, limit: int = MAX_UNITS_DRAWN) -> list[int | None]:
    """The unit indices a column of ``n`` units draws; ``None`` marks the ellipsis.

    ``shown_units(3) == [0, 1, 2]``; ``shown_units(784) == [0, 1, 2, 3, None, 780, ..., 783]``.
    """
    if n <= limit:
        return list(range(n))
    head = limit // 2
    return [*range(head), None, *range(n - (limit - head), n)]


def network_diagram(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activations: Sequence[str]
) -> str:
    """Layers as columns of units, each link coloured by the sign of its weight.

    ``weights[l]`` is W^(l+1) of shape ``(n_out, n_in)``, ``biases[l]`` its ``(n_out,)`` bias,
    ``activations[l]`` its activation's name. Each drawn unit is a ``<circle class="unit">``;
    a layer of more than ``MAX_UNITS_DRAWN`` units shows its first and last ones around a ⋮,
    and its label gives the true count. A link's opacity grows with ``|W_ij|`` relative to
    the largest finite weight of its layer (a NaN or infinite one is black); hovering a unit or
    a link shows its value.
    """
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    columns = [shown_units(n) for n in sizes]
    height = UNIT_GAP * max(len(c) for c in columns) + 70
    width = COLUMN_GAP * (len(sizes) - 1) + 140

    def centre(column: int, slot: int) -> tuple[float, float]:
        top = 34 + (height - 70 - UNIT_GAP * len(columns[column])) / 2
        return 70 + COLUMN_GAP * column, top + UNIT_GAP * (slot + 0.5)

    links = []
    for layer, matrix in enumerate(weights, start=1):
        finite = np.abs(matrix[np.isfinite(matrix)])  # a diverged network still draws
        scale = float(finite.max(initial=0.0)) or 1.0
        for i_slot, i in enumerate(columns[layer]):
            for j_slot, j in enumerate(columns[layer - 1]):
                if i is None or j is None:
                    continue
                w = float(matrix[i, j])
                strength = min(abs(w) / scale, 1.0) if math.isfinite(w) else 1.0
                color = (POSITIVE if w >= 0 else NEGATIVE) if math.isfinite(w) else "#000"
                (x1, y1), (x2, y2) = centre(layer - 1, j_slot), centre(layer, i_slot)
                hover = element("title", escape(f"W^{layer}[{i + 1},{j + 1}] = {w:.4g}"))
                links.append(
                    element(
                        "line",
                        hover,
                        x1=f"{x1:.1f}",
                        y1=f"{y1:.1f}",
                        x2=f"{x2:.1f}",
                        y2=f"{y2:.1f}",
                        stroke=color,
                        stroke_width="1.2",
                        stroke_opacity=f"{0.12 + 0.88 * strength:.2f}",
                    )
                )
    units, labels = [], []
    for column, slots in enumerate(columns):
        kind = "input" if column == 0 else "output" if column == len(sizes) - 1 else "hidden"
        x = centre(column, 0)[0]
        for slot, unit in enumerate(slots):
            _, y = centre(column, slot)
            if unit is None:
                units.append(text(x, y + 5, "⋮", text_anchor="middle"))
                continue
            if column == 0:
                hover = f"input x_{unit + 1}"
            else:
                hover = f"layer {column}, unit {unit + 1}: b = {biases[column - 1][unit]:.4g}"
            units.append(
                element(
                    "circle",
                    element("title", escape(hover)),
                    class_="unit",
                    data_layer=column,
                    data_unit=unit,
                    cx=f"{x:.1f}",
                    cy=f"{y:.1f}",
                    r=RADIUS,
                    fill=FILL[kind],
                    stroke="#555",
                    stroke_width="1",
                )
            )
        name = "input" if column == 0 else f"layer {column}"
        count = f"{sizes[column]:,} units" if sizes[column] != 1 else "1 unit"
        labels += [
            text(x, 18, name, text_anchor="middle", font_weight="bold"),
            text(x, height - 22, count, text_anchor="middle"),
        ]
        if column:
            labels.append(text(x, height - 8, activations[column - 1], text_anchor="middle"))
    label = "network " + "-".join(str(n) for n in sizes)
    return svg(width, height, [*links, *units, *labels], label)


# ------------------------------------------------------------------------ line charts
@dataclass
class Series:
    """One line of a chart: ``values[e]`` for epoch e + 1; non-finite values leave a gap."""

    name: str
    values: Sequence[float]
    color: str
    dashed: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round numbers (1, 2 or 5 times a power of ten) spanning ``[low, high]``."""
    if not high > low:  # one value: a band around it
        pad = abs(low) / 10 or 0.5
        low, high = low - pad, high + pad
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(ticks[0] + len(ticks) * step)
    return ticks


def line_chart(
    title: str, series: Sequence[Series], percent: bool = False, width: int = 360
) -> str:
    """Per-epoch ``series`` on one pair of axes; ``percent`` writes the y axis as percentages."""
    height, left, right, top, bottom = 240, 56, 12, 28, 62
    n_epochs = max(len(s.values) for s in series)
    finite = [v for s in series for v in s.values if math.isfinite(v)]
    ticks = nice_ticks(min(finite, default=0.0), max(finite, default=1.0))
    if percent:  # a band around 100% or 0% stops there
        ticks = [t for t in ticks if -1e-9 <= t <= 1 + 1e-9] or ticks
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = width - left - right, height - top - bottom

    def point(epoch: int, value: float) -> tuple[float, float]:
        fraction = (epoch - 1) / (n_epochs - 1) if n_epochs > 1 else 0.5
        return left + plot_w * fraction, top + plot_h * (high - value) / (high - low)

    body = [
        element("rect", x=left, y=top, width=plot_w, height=plot_h, fill="none", stroke="#999"),
        text(left + plot_w / 2, 17, title, text_anchor="middle", font_weight="bold"),
        text(left + plot_w / 2, height - 30, "epoch", text_anchor="middle"),
    ]
    for tick in ticks:
        _, y = point(1, tick)
        body.append(
            element("line", x1=left, x2=left + plot_w, y1=f"{y:.1f}", y2=f"{y:.1f}", stroke="#ddd")
        )
        label = f"{tick:.0%}" if percent else f"{tick:.3g}"
        body.append(text(left - 5, y + 4, label, text_anchor="end"))
    if n_epochs <= 10:
        epoch_ticks = list(range(1, n_epochs + 1))
    else:  # the first epoch and round numbers after it
        epoch_ticks = [1] + [round(t) for t in nice_ticks(1, n_epochs, 6) if 1 < t <= n_epochs]
    for epoch in epoch_ticks:
        x, _ = point(epoch, low)
        body.append(text(x, top + plot_h + 15, str(epoch), text_anchor="middle"))
    for index, line in enumerate(series):
        body += _polyline(line, point, n_epochs < 30)
        x = left + 8 + 110 * index
        dash = "5,3" if line.dashed else None
        body.append(
            element(
                "line",
                x1=x,
                x2=x + 18,
                y1=height - 10,
                y2=height - 10,
                stroke=line.color,
                stroke_width=2,
                stroke_dasharray=dash,
            )
        )
        body.append(text(x + 22, height - 6, line.name))
    return svg(width, height, body, title)


def _polyline(line: Series, point, markers: bool) -> list[str]:
    """The line through the finite values, broken where a value is not finite."""
    runs: list[list[tuple[float, float]]] = [[]]
    for epoch, value in enumerate(line.values, start=1):
        if math.isfinite(value):
            runs[-1].append(point(epoch, value))
        elif runs[-1]:
            runs.append([])
    dash = "5,3" if line.dashed else None
    shapes = []
    for run in runs:
        if len(run) > 1:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            shapes.append(
                element(
                    "polyline",
                    points=points,
                    fill="none",
                    stroke=line.color,
                    stroke_width=2,
                    stroke_dasharray=dash,
                    class_="series",
                )
            )
        if markers or len(run) == 1:
            shapes += [
                element("circle", cx=f"{x:.1f}", cy=f"{y:.1f}", r=2.5, fill=line.color)
                for x, y in run
            ]
    return shapes
