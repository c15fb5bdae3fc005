"""A training report: one self-contained HTML page about a trained network.

Sections: the architecture, the training history (curves and gradient flow, from the history a
model file keeps), the evaluation on data (loss, accuracy, per-class precision and recall, the
confusion matrix) and misclassified examples. Pictures are PNGs embedded as ``data:`` URIs and
the style sheet is inline, so the page shows everything with nothing fetched from a network.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import plots
from .metrics import confusion_matrix, precision_recall, predicted_classes
from .validation import check_inputs
from .version import __version__

if TYPE_CHECKING:
    from .network import Network

SECTIONS = ("architecture", "training", "evaluation", "misclassified")
MISCLASSIFIED_SHOWN = 16
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .25em .7em; text-align: right; }
th { background: #f4f4f4; } td.name, th.name { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: .8em 0; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; }
.note { color: #666; }
"""


def build_report(
    network: Network,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    title: str = "deltaprop report",
    data_name: str | None = None,
) -> str:
    """Return the report on ``network`` as an HTML document.

    Parameters
    ----------
    network : Network
        Its ``history`` (kept in model files) gives the training section.
    X : ndarray, shape (N, n_in), optional
        Data to evaluate on; without it the evaluation sections say so.
    y : ndarray, shape (N,) or (N, n_out), optional
        Labels or targets of ``X``.
    title : str
        The page's title and heading.
    data_name : str, optional
        How the data is named in the evaluation section (e.g. "mnist, test split").
    """
    parts = [_architecture(network), _training(network)]
    if X is None or y is None:
        missing = '<p class="note">No data was given, so nothing was evaluated.</p>'
        parts += [_section("evaluation", "Evaluation", missing)]
        parts += [_section("misclassified", "Misclassified examples", missing)]
    else:
        X = check_inputs(X, network.n_in, network.dtype)
        parts += _evaluation(network, X, y, data_name)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        f'<p class="note">Written by deltaprop {html.escape(__version__)}.</p>\n'
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )


def write_report(
    network: Network,
    path: str | Path,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    title: str = "deltaprop report",
    data_name: str | None = None,
) -> Path:
    """Write ``build_report(...)`` to ``path`` atomically; return the path."""
    from .io import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, build_report(network, X, y, title, data_name).encode("utf-8"))
    return path


# ------------------------------------------------------------------------ pieces
def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{html.escape(heading)}</h2>\n{body}\n</section>'


def _image(figure, alt: str) -> str:
    data = base64.b64encode(plots.figure_png(figure)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[str]], names: int = 1) -> str:
    """An HTML table; the first ``names`` columns are left-aligned text. Cells are escaped."""

    def cells(tag: str, values: list[str]) -> str:
        return "".join(
            f"<{tag}{' class=name' if i < names else ''}>{html.escape(str(v))}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>\n" for row in rows)
    return f"<table>\n<tr>{cells('th', header)}</tr>\n{body}</table>"


def _architecture(network: Network) -> str:
    rows = []
    for index, layer in enumerate(network.layers, start=1):
        rows.append(
            [
                f"{index}",
                f"{layer.n_in} → {layer.n_out}",
                layer.activation.name,
                f"{layer.n_in * layer.n_out + layer.n_out:,}",
                f"{layer.dropout:g}" if layer.dropout else "",
            ]
        )
    table = _table(["layer", "inputs → units", "activation", "parameters", "dropout"], rows)
    summary = (
        f"<p>Sizes {'-'.join(map(str, network.sizes))}, loss <code>{network.loss.name}</code>, "
        f"{network.dtype.name}, {network.n_parameters():,} parameters.</p>"
    )
    return _section(
        "architecture",
        "Architecture",
        f"{summary}\n{table}\n<pre>{html.escape(repr(network))}</pre>",
    )


def _training(network: Network) -> str:
    history = network.history
    if history is None or not history.epochs:
        body = '<p class="note">This model holds no training history.</p>'
        return _section("training", "Training history", body)
    keys = [
        k for k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time") if k in history
    ]
    rows = [
        [str(epoch + 1)] + [_metric(k, history[k][epoch]) for k in keys]
        for epoch in range(history.epochs)
    ]
    parts = [
        f"<p>{history.epochs} epochs.</p>",
        _image(plots.plot_training_curves(history), "loss and accuracy per epoch"),
    ]
    if history.grad_norms:
        parts.append(_image(plots.plot_gradient_flow(history), "gradient norm per layer"))
    if plots.image_shape(network.n_in):
        parts.append(_image(plots.plot_first_layer_weights(network), "first-layer weights"))
    parts.append(_table(["epoch", *keys], rows, names=0))
    return _section("training", "Training history", "\n".join(parts))


def _metric(key: str, value: float) -> str:
    if key.endswith("accuracy"):
        return f"{value:.2%}"
    if key == "time":
        return f"{value:.1f} s"
    return f"{value:.4g}" if key == "lr" else f"{value:.4f}"


def _evaluation(network: Network, X: np.ndarray, y: np.ndarray, data_name) -> list[str]:
    scores = network.evaluate(X, y)
    about = f"{len(X):,} samples" + (f" of {html.escape(data_name)}" if data_name else "")
    summary = _table(["", "value"], [[k, _metric(k, v)] for k, v in scores.items()])
    if not plots.is_classification(network, y):
        outputs = network.forward(X)
        figure = plots.plot_predictions(y, outputs)
        body = f"<p>{about}.</p>\n{summary}\n{_image(figure, 'predicted against true values')}"
        note = '<p class="note">A regressor has no classes to confuse.</p>'
        return [
            _section("evaluation", "Evaluation", body),
            _section("misclassified", "Misclassified examples", note),
        ]
    labels, predicted = plots.class_labels(y), predicted_classes(network, X)
    n_classes = max(network.n_out, 2)
    matrix = confusion_matrix(labels, predicted, n_classes)
    precision, recall = precision_recall(matrix)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    support = matrix.sum(axis=1)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    rows = [
        [str(k), f"{precision[k]:.2%}", f"{recall[k]:.2%}", f"{f1[k]:.2%}", f"{support[k]:,}"]
        for k in range(n_classes)
    ]
    body = "\n".join(
        [
            f"<p>{about}; accuracy {accuracy:.2%}.</p>",
            summary,
            "<h3>Per class</h3>",
            _table(["class", "precision", "recall", "F1", "samples"], rows),
            "<h3>Confusion matrix</h3>",
            _image(plots.plot_confusion_matrix(labels, predicted, n_classes), "confusion matrix"),
        ]
    )
    return [_section("evaluation", "Evaluation", body), _misclassified(X, labels, predicted)]


def _misclassified(X, labels, predicted) -> str:
    wrong = np.flatnonzero(labels != predicted)
    if not len(wrong):
        body = '<p class="note">Every sample is classified correctly.</p>'
    elif plots.image_shape(X.shape[1]):
        figure = plots.plot_misclassified(X, labels, predicted, max_samples=MISCLASSIFIED_SHOWN)
        body = (
            f"<p>{len(wrong):,} of {len(X):,} samples are misclassified; the first "
            f"{min(len(wrong), MISCLASSIFIED_SHOWN)}, with their index, prediction and true "
            f"class:</p>\n{_image(figure, 'misclassified samples')}"
        )
    else:
        shown = wrong[:MISCLASSIFIED_SHOWN]
        rows = [[str(i), str(predicted[i]), str(labels[i])] for i in shown]
        body = (
            f"<p>{len(wrong):,} of {len(X):,} samples are misclassified; the first "
            f"{len(shown)}:</p>\n{_table(['sample', 'predicted', 'true'], rows, names=0)}"
        )
    return _section("misclassified", "Misclassified examples", body)
