"""Pictures of training and evaluation, drawn with matplotlib (the optional ``plots`` extra).

Every ``plot_*`` function returns a matplotlib ``Figure`` that is not attached to pyplot, so
nothing here touches a user's interactive backend; PNGs are rendered with Agg. matplotlib is
imported only when a figure is drawn: without it, drawing raises ``MissingDependencyError``
naming the install command.

``write_training_plots`` and ``write_evaluation_plots`` write the standard set of PNG files
(``deltaprop train --plots`` and ``deltaprop evaluate --plots`` call them).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import MissingDependencyError, ValidationError
from .metrics import confusion_matrix, predicted_classes
from .validation import check_inputs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .network import Network
    from .training import History

INSTALL = 'pip install "deltaprop[plots]"'
DPI = 100
MIN_IMAGE_SIDE = 8  # rows of 64 values and more are drawn as square images


def new_figure(width: float, height: float) -> Figure:
    """A ``Figure`` of ``width`` × ``height`` inches with an Agg canvas and constrained layout."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(
            f"plots need matplotlib, which is not installed: {INSTALL}"
        ) from None
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure: Figure) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically; return the path."""
    from .io import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, figure_png(figure))
    return path


def image_shape(n_features: int) -> tuple[int, int] | None:
    """``(side, side)`` when rows of ``n_features`` values are square images (784: 28×28)."""
    side = math.isqrt(n_features)
    return (side, side) if side * side == n_features and side >= MIN_IMAGE_SIDE else None


# ------------------------------------------------------------------------ training
def _check_history(history: History | None) -> History:
    if history is None or not getattr(history, "epochs", 0):
        raise ValidationError(
            "history has no epochs: train the network with fit (or load a model file saved "
            "after training) before plotting its history"
        )
    return history


def plot_training_curves(history: History) -> Figure:
    """Loss, and accuracy when recorded, per epoch: training solid, validation dashed."""
    history = _check_history(history)
    panels = [("loss", "loss")]
    if history.accuracy:
        panels.append(("accuracy", "accuracy"))
    figure = new_figure(5 * len(panels), 3.8)
    epochs = np.arange(1, history.epochs + 1)
    marker = "o" if history.epochs < 30 else ""
    for ax, (key, label) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        ax.plot(epochs, history[key], marker + "-", label="training", color="C0")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], marker + "--", label="validation", color="C1")
        ax.set(xlabel="epoch", ylabel=label, title=f"{label} per epoch")
        if key == "accuracy":
            ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    return figure


def plot_gradient_flow(history: History | Mapping[str, History]) -> Figure:
    """The norm of ∂L/∂W^l for every layer l over the epochs, on a log scale.

    Pass one ``History``, or a mapping such as ``{"sigmoid": h1, "relu": h2}`` to draw one panel
    per run with a shared axis: vanishing gradients show as the input-side layers falling
    orders of magnitude below the output layer.
    """
    runs = dict(history) if isinstance(history, Mapping) else {"": history}
    for run in runs.values():
        if not _check_history(run).grad_norms:
            raise ValidationError("history has no gradient norms (History.grad_norms is empty)")
    figure = new_figure(4.8 * len(runs) + 1.2, 4)
    figure.suptitle(r"gradient flow: $\Vert\partial L / \partial W^l\Vert$ per layer and epoch")
    axes = figure.subplots(1, len(runs), squeeze=False, sharey=True)[0]
    deepest = axes[0]
    for ax, (name, run) in zip(axes, runs.items()):
        norms = np.array(run.grad_norms, dtype=np.float64)  # (epochs, layers)
        norms[norms <= 0] = np.nan  # a log axis cannot show 0 (every unit dead)
        epochs = np.arange(1, len(norms) + 1)
        colors = _layer_colors(norms.shape[1])
        for layer in range(norms.shape[1]):
            ax.plot(
                epochs,
                norms[:, layer],
                "o-" if len(epochs) < 30 else "-",
                color=colors[layer],
                label=f"layer {layer + 1}",
            )
        ax.set_yscale("log")
        ax.set(xlabel="epoch", title=name)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3, which="both")
        if len(ax.lines) > len(deepest.lines):
            deepest = ax
    # One legend beside the panels, from the run with the most layers: it never hides a line.
    figure.legend(*deepest.get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    axes[0].set_ylabel(r"mean L2 norm of $\partial L / \partial W^l$ (log scale)")
    return figure


def _layer_colors(n_layers: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(n_layers - 1, 1) * 0.9) for i in range(n_layers)]


def plot_first_layer_weights(
    network: Network, shape: tuple[int, int] | None = None, max_units: int = 64
) -> Figure:
    """Each first-layer unit's weights W^1_i as an image of the input (28×28 for MNIST).

    Red is a positive weight, blue a negative one; each unit has its own symmetric scale.
    """
    shape = shape or image_shape(network.n_in)
    if shape is None or shape[0] * shape[1] != network.n_in:
        raise ValidationError(
            f"first-layer weights can be drawn as images only when n_in is an image size "
            f"(e.g. 784 = 28×28), this network has n_in={network.n_in}: pass shape=(rows, cols)"
        )
    weights = network.layers[0].weights[:max_units]
    columns = math.ceil(math.sqrt(len(weights)))
    rows = math.ceil(len(weights) / columns)
    figure = new_figure(max(1.2 * columns + 0.4, 4.5), 1.2 * rows + 0.9)
    figure.suptitle(
        f"first-layer weights $W^1$, one image per unit ({len(weights)} of "
        f"{network.layers[0].n_out})\nred: positive weight, blue: negative"
    )
    for index, ax in enumerate(figure.subplots(rows, columns, squeeze=False).ravel()):
        ax.set_axis_off()
        if index < len(weights):
            limit = float(np.abs(weights[index]).max()) or 1.0
            ax.imshow(weights[index].reshape(shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(index + 1), fontsize="x-small", pad=2)
    return figure


# ------------------------------------------------------------------------ evaluation
def plot_confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int | None = None
) -> Figure:
    """Counts of true class (rows) against predicted class (columns); labels are ``(N,)``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=0), y_pred.max(initial=0))) + 1
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    k = len(matrix)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    size = min(max(3.5, 0.45 * k + 2), 12)
    figure = new_figure(size + 1, size)
    ax = figure.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, shrink=0.8, label="samples")
    if k <= 20:
        threshold = matrix.max() / 2
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize="small",
                color="white" if count > threshold else "black",
            )
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
    ax.set(
        xlabel="predicted class",
        ylabel="true class",
        title=f"confusion matrix\n{matrix.sum():,} samples, accuracy {accuracy:.2%}",
    )
    return figure


def plot_misclassified(
    X: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    shape: tuple[int, int] | None = None,
    max_samples: int = 16,
) -> Figure:
    """The first ``max_samples`` misclassified rows of ``X (N, n_in)`` as images.

    Each is titled with its predicted and true label; ``y_true``/``y_pred`` are labels ``(N,)``.
    """
    X = np.asarray(X)
    shape = shape or image_shape(X.shape[1])
    if shape is None or shape[0] * shape[1] != X.shape[1]:
        raise ValidationError(
            f"samples can be drawn as images only when they have an image size (e.g. 784 = "
            f"28×28), these have {X.shape[1]} values: pass shape=(rows, cols)"
        )
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))
    shown = wrong[:max_samples]
    columns = min(max(len(shown), 1), 8)
    rows = max(math.ceil(len(shown) / columns), 1)
    figure = new_figure(max(1.5 * columns + 0.4, 4), 1.7 * rows + 0.5)
    figure.suptitle(f"misclassified samples: {len(shown)} of {len(wrong):,} shown")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    if not len(shown):
        axes[0].text(
            0.5,
            0.5,
            "none: every sample\nis classified correctly",
            ha="center",
            va="center",
            transform=axes[0].transAxes,
        )
    for ax, index in zip(axes, shown):
        ax.imshow(X[index].reshape(shape), cmap="gray_r")
        ax.set_title(
            f"#{index}: predicted {y_pred[index]}\ntrue {y_true[index]}",
            fontsize="small",
            color="C3",
        )
    return figure


def plot_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> Figure:
    """Predicted against true values of a regressor, one point per output value."""
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    figure = new_figure(4.5, 4.5)
    ax = figure.subplots()
    ax.scatter(y_true, y_pred, s=8, alpha=0.5)
    low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
    ax.plot([low, high], [low, high], color="C3", lw=1, label="predicted = true")
    rmse = float(np.sqrt(np.mean((y_pred - y_true) ** 2)))
    ax.set(xlabel="true value", ylabel="predicted value", title=f"predictions (RMSE {rmse:.4g})")
    ax.grid(alpha=0.3)
    ax.legend()
    return figure


# ------------------------------------------------------------------------ file sets
def write_training_plots(
    history: History, directory: str | Path, network: Network | None = None
) -> list[Path]:
    """Write the pictures of a training run into ``directory`` (created if missing).

    Files: ``training_curves.png``; ``gradient_flow.png`` when the history holds gradient
    norms; ``first_layer_weights.png`` when ``network`` is given and its inputs are square
    images (MNIST's 784 = 28×28). Returns the paths written.
    """
    history = _check_history(history)
    directory = _directory(directory)
    figures: dict[str, Any] = {"training_curves.png": plot_training_curves(history)}
    if history.grad_norms:
        figures["gradient_flow.png"] = plot_gradient_flow(history)
    if network is not None and image_shape(network.n_in):
        figures["first_layer_weights.png"] = plot_first_layer_weights(network)
    return [save_figure(figure, directory / name) for name, figure in figures.items()]


def write_evaluation_plots(
    network: Network, X: np.ndarray, y: np.ndarray, directory: str | Path
) -> list[Path]:
    """Write the pictures of ``network`` evaluated on ``X (N, n_in)``, ``y`` into ``directory``.

    A classifier gets ``confusion_matrix.png`` and, when the inputs are square images,
    ``misclassified.png``; a regressor gets ``predictions.png``. Returns the paths written.
    """
    X = check_inputs(X, network.n_in, network.dtype)
    directory = _directory(directory)
    figures: dict[str, Any] = {}
    if is_classification(network, y):
        labels, predicted = class_labels(y), predicted_classes(network, X)
        n_classes = max(network.n_out, 2)
        figures["confusion_matrix.png"] = plot_confusion_matrix(labels, predicted, n_classes)
        if image_shape(network.n_in):
            figures["misclassified.png"] = plot_misclassified(X, labels, predicted)
    else:
        figures["predictions.png"] = plot_predictions(y, network.forward(X))
    return [save_figure(figure, directory / name) for name, figure in figures.items()]


def is_classification(network: Network, y: np.ndarray) -> bool:
    """True when ``y`` (labels ``(N,)`` or rows ``(N, n_out)``) holds classes for ``network``.

    Besides classification losses this covers the seed's MNIST network: sigmoid outputs and
    mean squared error on labels or one-hot rows, whose prediction is the largest output.
    """
    y = np.asarray(y)
    if network.is_classifier:
        return True
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        integral = bool(np.all(y == np.round(y)))
        return integral and (network.n_out > 1 or bool(np.isin(y, (0, 1)).all()))
    return bool(np.isin(y, (0, 1)).all() and np.all(y.sum(axis=1) == 1))


def class_labels(y: np.ndarray) -> np.ndarray:
    """Class labels ``(N,)`` from labels ``(N,)``, one-hot rows ``(N, k)`` or 0/1 ``(N, 1)``."""
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1) if y.shape[1] > 1 else (y[:, 0] >= 0.5)
    return y.astype(np.int64)


def _directory(directory: str | Path) -> Path:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValidationError(f"plots directory {directory} is a file: give a directory")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
