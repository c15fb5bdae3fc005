"""What Network, History, GradcheckReport and Explanation show in Jupyter (display.py, svg.py).

IPython displays an object through its ``_repr_html_`` / ``_repr_markdown_``; these tests call
them as IPython would and read the result back: the HTML is parsed as XML (so every tag is
closed and every text escaped), and the numbers shown are compared with the library's own.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop.activations import Sigmoid
from deltaprop.gradcheck import LayerCheck
from deltaprop.svg import MAX_UNITS_DRAWN, nice_ticks, shown_units

SVG = "{http://www.w3.org/2000/svg}"
X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y_XOR = np.array([0, 1, 1, 0])


def parse(html: str) -> ET.Element:
    return ET.fromstring(html)


def units(root: ET.Element) -> list[ET.Element]:
    return [c for c in root.iter(f"{SVG}circle") if c.get("class") == "unit"]


def table_rows(root: ET.Element, index: int = 0) -> list[list[str]]:
    table = list(root.iter("table"))[index]
    return [["".join(cell.itertext()) for cell in row] for row in table.iter("tr")]


def all_text(root: ET.Element) -> str:
    return " ".join(root.itertext())


# ------------------------------------------------------------------------ Network
@pytest.mark.parametrize("sizes", [[2, 3, 2], [1, 1], [4, 8, 8, 3]])
def test_small_network_draws_one_node_per_unit(sizes):
    net = dp.Network.from_sizes(sizes, hidden="tanh", output="softmax", seed=0)
    root = parse(net._repr_html_())
    drawn = units(root)
    assert len(drawn) == sum(sizes)
    for layer, n in enumerate(sizes):
        in_layer = [c for c in drawn if c.get("data-layer") == str(layer)]
        assert [int(c.get("data-unit")) for c in in_layer] == list(range(n))
    # one link per weight
    assert len(list(root.iter(f"{SVG}line"))) == sum(a * b for a, b in itertools.pairwise(sizes))


def test_large_layers_are_capped_with_an_ellipsis_and_their_true_count():
    net = dp.Network.from_sizes([784, 256, 10], seed=0)
    root = parse(net._repr_html_())
    per_layer = [
        [int(c.get("data-unit")) for c in units(root) if c.get("data-layer") == str(layer)]
        for layer in range(3)
    ]
    head = MAX_UNITS_DRAWN // 2
    assert per_layer[0] == [*range(head), *range(784 - head, 784)]
    assert len(per_layer[1]) == MAX_UNITS_DRAWN and len(per_layer[2]) == MAX_UNITS_DRAWN
    svg_text = all_text(root.find(f".//{SVG}svg"))
    assert "784 units" in svg_text and "256 units" in svg_text and "10 units" in svg_text
    assert svg_text.count("⋮") == 3


def test_network_table_lists_shapes_parameters_and_dtype():
    net = dp.Network.from_sizes([3, 5, 2], hidden="relu", output="softmax", dtype="float64")
    net.layers[0].dropout = 0.25
    root = parse(net._repr_html_())
    rows = table_rows(root)
    assert rows[0] == ["layer", "inputs → units", "activation", "W", "b", "dropout", "parameters"]
    assert rows[1] == ["1", "3 → 5", "relu", "5 × 3", "5", "0.25", "20"]
    assert rows[2] == ["2", "5 → 2", "softmax", "2 × 5", "2", "–", "12"]
    summary = root.find("p").text
    assert "3-5-2" in summary and "float64" in summary and "32 parameters" in summary
    assert "not trained" in summary


def test_links_show_the_weights_sign_and_value():
    net = dp.Network.from_sizes([2, 2], output="sigmoid", loss="mse", seed=0)
    net.layers[0].weights[...] = [[0.5, -2.0], [1.0, 0.0]]
    root = parse(net._repr_html_())
    links = {line.find(f"{SVG}title").text: line for line in root.iter(f"{SVG}line")}
    assert links["W^1[1,1] = 0.5"].get("stroke") != links["W^1[1,2] = -2"].get("stroke")
    assert float(links["W^1[1,2] = -2"].get("stroke-opacity")) == 1.0


def test_a_diverged_network_still_draws():
    net = dp.Network.from_sizes([2, 2], output="sigmoid", loss="mse", seed=0)
    net.layers[0].weights[...] = [[np.nan, np.inf], [1.0, -1.0]]
    root = parse(net._repr_html_())
    opacities = [float(line.get("stroke-opacity")) for line in root.iter(f"{SVG}line")]
    assert opacities == [1.0, 1.0, 1.0, 1.0]


class Hostile(Sigmoid):
    name = '<script>alert("x")</script> & co'


def test_every_text_is_escaped():
    net = dp.Network(
        [dp.Dense(2, 3, activation=Hostile()), dp.Dense(3, 1, activation=Hostile())], loss="mse"
    )
    html = net._repr_html_()
    assert "<script>" not in html
    root = parse(html)  # well-formed despite the markup in the name
    assert Hostile.name in all_text(root)


@given(st.lists(st.integers(1, 40), min_size=2, max_size=5))
def test_any_network_gives_well_formed_html(sizes):
    net = dp.Network.from_sizes(sizes, output="sigmoid", loss="mse", seed=1)
    root = parse(net._repr_html_())
    assert len(units(root)) == sum(min(n, MAX_UNITS_DRAWN) for n in sizes)


def test_shown_units():
    assert shown_units(3) == [0, 1, 2]
    assert shown_units(MAX_UNITS_DRAWN) == list(range(MAX_UNITS_DRAWN))
    assert shown_units(100, limit=4) == [0, 1, None, 98, 99]


@given(st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_nice_ticks_cover_the_values(low, span):
    ticks = nice_ticks(low, low + span)
    assert ticks[0] <= low and ticks[-1] >= low + span * (1 - 1e-12)
    assert 2 <= len(ticks) <= 12


# ------------------------------------------------------------------------ History
def trained(epochs: int, validation: bool = True) -> tuple[dp.Network, dp.History]:
    net = dp.Network.from_sizes([2, 4, 2], hidden="tanh", output="softmax", seed=0)
    history = net.fit(
        X_XOR,
        Y_XOR,
        epochs=epochs,
        batch_size=4,
        optimizer=dp.SGD(lr=0.5),
        validation_data=(X_XOR, Y_XOR) if validation else None,
    )
    return net, history


def test_history_shows_curves_and_one_row_per_epoch():
    net, history = trained(5)
    root = parse(history._repr_html_())
    charts = list(root.iter(f"{SVG}svg"))
    assert [chart.find(f"{SVG}title").text for chart in charts] == [
        "loss per epoch",
        "accuracy per epoch",
    ]
    for chart in charts:  # training and validation, 5 points each
        lines = [p for p in chart.iter(f"{SVG}polyline") if p.get("class") == "series"]
        assert [len(p.get("points").split()) for p in lines] == [5, 5]
    rows = table_rows(root)
    assert rows[0] == ["epoch", *history.metrics]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4", "5"]
    losses = [float(row[1]) for row in rows[1:]]
    assert np.allclose(losses, history.loss, atol=5e-5)
    assert rows[5][2] == f"{history.accuracy[-1]:.2%}"
    assert "History of 5 epochs" in root.find("p").text
    assert "trained 5 epochs" in parse(net._repr_html_()).find("p").text


def test_curve_points_follow_the_values():
    _, history = trained(4, validation=False)
    chart = next(parse(history._repr_html_()).iter(f"{SVG}svg"))
    (line,) = [p for p in chart.iter(f"{SVG}polyline") if p.get("class") == "series"]
    points = np.array([[float(v) for v in p.split(",")] for p in line.get("points").split()])
    assert np.all(np.diff(points[:, 0]) > 0)  # epochs left to right
    # a higher loss is drawn higher up (smaller y)
    order = np.argsort(history.loss)
    assert np.all(np.diff(points[order, 1]) <= 0)


def test_long_history_table_is_capped():
    _, history = trained(60, validation=False)
    rows = table_rows(parse(history._repr_html_()))
    assert len(rows) == 1 + 20 + 1
    assert rows[11][0] == "…" and rows[-1][0] == "60"


def test_empty_history_says_so():
    root = parse(dp.History()._repr_html_())
    assert "no epochs" in all_text(root)


def test_non_finite_values_leave_a_gap():
    history = dp.History({"loss": [1.0, 0.5, float("nan"), 0.3, 0.2]}, [[0.0]] * 5)
    chart = next(parse(history._repr_html_()).iter(f"{SVG}svg"))
    lines = [p for p in chart.iter(f"{SVG}polyline") if p.get("class") == "series"]
    assert [len(p.get("points").split()) for p in lines] == [2, 2]


# ------------------------------------------------------------------------ GradcheckReport
def test_gradcheck_table_has_one_row_per_layer_with_its_errors():
    net = dp.Network.from_sizes([2, 3, 2], hidden="sigmoid", output="softmax", dtype="float64")
    report = dp.gradcheck(net, X_XOR, Y_XOR)
    root = parse(report._repr_html_())
    rows = table_rows(root)
    assert len(rows) == 1 + len(report.layers)
    for row, layer in zip(rows[1:], report.layers):
        assert row[:4] == [
            str(layer.index + 1),
            f"{layer.weights_error:.2e}",
            f"{layer.bias_error:.2e}",
            str(layer.checked),
        ]
        assert row[4] == "✓ pass"
    assert all_text(root).count("PASS") == 1


def test_gradcheck_marks_a_failing_layer():
    report = dp.GradcheckReport(
        [LayerCheck(0, 1e-10, 1e-11, 9), LayerCheck(1, 3e-2, 1e-11, 8)], tolerance=1e-6, eps=1e-5
    )
    root = parse(report._repr_html_())
    assert [row[4] for row in table_rows(root)[1:]] == ["✓ pass", "✗ FAIL"]
    assert root.find("p").text.endswith("FAIL")


# ------------------------------------------------------------------------ Explanation
def backward_tables(markdown: str) -> dict[int, dict[str, np.ndarray]]:
    """From the Markdown's backward pass: per layer, each column of its δ table, as floats."""
    backward = markdown.split("## Backward pass", 1)[1].split("## One SGD step", 1)[0]
    tables = {}
    for section in re.split(r"^### Layer ", backward, flags=re.M)[1:]:
        index = int(section.split("\n", 1)[0])
        first = next(b for b in section.split("\n\n") if b.startswith("|")).splitlines()
        header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in first]
        tables[index] = {
            name: np.array([float(row[k]) for row in rows[1:]]) for k, name in enumerate(header)
        }
    return tables


@pytest.mark.parametrize("n_samples", [1, 3])
def test_explanation_markdown_shows_the_deltas_of_net_gradients(n_samples):
    net = dp.Network.from_sizes(
        [2, 3, 2], hidden="sigmoid", output="sigmoid", loss="mse", dtype="float64", seed=0
    )
    rng = np.random.default_rng(0)
    x, y = rng.random((n_samples, 2)), rng.random((n_samples, 2))
    markdown = dp.explain(net, x, y)._repr_markdown_()
    assert markdown.count("$$") >= 10
    _, gradients = net.gradients(x, y)
    tables = backward_tables(markdown)
    assert sorted(tables) == [1, 2]
    for index, (_, bias_grad) in enumerate(gradients, start=1):
        columns = tables[index]
        deltas = [v for name, v in columns.items() if name.startswith("δ")]
        assert len(deltas) == n_samples
        # ∂L/∂b^l is δ^l summed over the samples; the table prints about 4 significant digits
        tolerance = 1e-3 * np.abs(bias_grad).max()
        assert np.allclose(np.sum(deltas, axis=0), bias_grad, atol=tolerance)
        assert np.allclose(columns["∂L/∂b"], bias_grad, atol=tolerance)


def test_explanation_markdown_is_what_explain_cli_writes(tmp_path, capsys):
    from deltaprop.cli import main

    path = tmp_path / "step.md"
    assert main(["explain", "--seed", "0", "--markdown", str(path)]) == 0
    capsys.readouterr()
    # the CLI's defaults: the seed's 2-3-2 sigmoid network with mse, a random sample
    net = dp.Network.from_sizes(
        [2, 3, 2], hidden="sigmoid", output="sigmoid", loss="mse", dtype="float64", seed=0
    )
    rng = np.random.default_rng(0)
    x, y = rng.random((1, 2)), rng.integers(0, 2, size=1)
    shown = dp.explain(net, x, y, lr=0.1, max_checks=100, seed=0)._repr_markdown_()
    assert shown == path.read_text(encoding="utf-8")
