"""``deltaprop.plots`` draws readable PNGs from a real (small) training run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import deltaprop as dp
from deltaprop import plots
from deltaprop.datasets import load_digits
from deltaprop.metrics import predicted_classes

SRC = str(Path(__file__).resolve().parents[1] / "src")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def mnist_shaped_digits(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 digits scaled up 3× and padded to MNIST's 28×28, as rows of 784."""
    (x, y), _ = load_digits(flatten=False)
    images = np.kron(x[:n], np.ones((3, 3)))  # (n, 24, 24)
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return images.reshape(n, 784).astype(np.float32), y[:n]


@pytest.fixture(scope="module")
def trained():
    X, y = mnist_shaped_digits()
    network = dp.Network.from_sizes([784, 16, 10], seed=0)
    network.fit(
        X[:500],
        y[:500],
        epochs=3,
        batch_size=32,
        optimizer=dp.SGD(lr=0.1),
        validation_data=(X[500:], y[500:]),
    )
    return network, X[500:], y[500:]


def png_size(data: bytes, in_colour: bool = True) -> tuple[int, int]:
    """(width, height) of a PNG that is drawn on, not blank.

    Its pixels vary and more than 1% of them stand out from the white background; with
    ``in_colour``, at least 0.2% are saturated colour: the data itself (lines, bars, cells, a
    colormap), not only the grey axes and text an empty plot has.
    """
    assert data[:8] == PNG_SIGNATURE
    Image.open(io.BytesIO(data)).verify()
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)
    assert rgb.std() > 5, "the image is one flat colour"
    assert (np.abs(rgb - 255).max(axis=-1) > 32).mean() > 0.01, "the image is all background"
    if in_colour:
        assert (np.ptp(rgb, axis=-1) > 60).mean() > 0.002, "nothing drawn in colour: empty axes"
    return rgb.shape[1], rgb.shape[0]


def assert_sensible_png(path: Path) -> tuple[int, int]:
    width, height = png_size(path.read_bytes())
    assert 250 <= width <= 2500 and 250 <= height <= 2500, (width, height)
    return width, height


def test_every_plot_function_returns_a_figure_that_renders(trained, tmp_path):
    network, X, y = trained
    predicted = predicted_classes(network, X)
    figures = {
        "curves": plots.plot_training_curves(network.history),
        "flow": plots.plot_gradient_flow(network.history),
        "weights": plots.plot_first_layer_weights(network),
        "confusion": plots.plot_confusion_matrix(y, predicted, n_classes=10),
        "misclassified": plots.plot_misclassified(X, y, predicted),
        "predictions": plots.plot_predictions(y, predicted),
    }
    for name, figure in figures.items():
        assert_sensible_png(plots.save_figure(figure, tmp_path / f"{name}.png"))


def test_training_plots_are_the_documented_files(trained, tmp_path):
    network, _, _ = trained
    paths = plots.write_training_plots(network.history, tmp_path / "new" / "dir", network)
    assert [p.name for p in paths] == [
        "training_curves.png",
        "gradient_flow.png",
        "first_layer_weights.png",
    ]
    sizes = {p.name: assert_sensible_png(p) for p in paths}
    # Loss and accuracy side by side: a wide picture.
    assert sizes["training_curves.png"][0] > 1.8 * sizes["training_curves.png"][1]


def test_training_plots_without_images_or_network(trained, tmp_path):
    network, _, _ = trained
    paths = plots.write_training_plots(network.history, tmp_path)
    assert [p.name for p in paths] == ["training_curves.png", "gradient_flow.png"]
    for path in paths:
        assert_sensible_png(path)


def test_evaluation_plots_of_a_classifier(trained, tmp_path):
    network, X, y = trained
    paths = plots.write_evaluation_plots(network, X, y, tmp_path)
    assert [p.name for p in paths] == ["confusion_matrix.png", "misclassified.png"]
    for path in paths:
        assert_sensible_png(path)


def test_evaluation_plots_of_a_regressor(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(200, 1))
    y = np.sin(X[:, 0])
    network = dp.Network.from_sizes([1, 16, 1], hidden="tanh", output="identity", loss="mse")
    network.fit(X, y, epochs=5, batch_size=16, optimizer=dp.Adam(lr=0.01))
    paths = plots.write_evaluation_plots(network, X, y, tmp_path)
    assert [p.name for p in paths] == ["predictions.png"]
    assert_sensible_png(paths[0])
    # No gradient norms of 784 inputs here, and no image: only curves and gradient flow.
    paths = plots.write_training_plots(network.history, tmp_path, network)
    assert [p.name for p in paths] == ["training_curves.png", "gradient_flow.png"]
    for path in paths:
        assert_sensible_png(path)


def test_gradient_flow_compares_runs_side_by_side(trained):
    network, _, _ = trained
    single = png_size(plots.figure_png(plots.plot_gradient_flow(network.history)))
    double = png_size(
        plots.figure_png(plots.plot_gradient_flow({"a": network.history, "b": network.history}))
    )
    assert double[0] > 1.5 * single[0]  # a second panel of the same size


def test_zero_gradient_norms_do_not_break_the_log_axis():
    history = dp.History()
    for epoch in range(3):
        history.append({"loss": 1.0 / (epoch + 1)}, [0.0, 1e-3 * (epoch + 1)])
    png_size(plots.figure_png(plots.plot_gradient_flow(history)))


def test_misclassified_with_none_wrong_still_draws(trained):
    _, X, y = trained
    png_size(plots.figure_png(plots.plot_misclassified(X, y, y)), in_colour=False)  # only text


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(dp.ValidationError, match="history has no epochs"):
        plots.write_training_plots(None, tmp_path)
    with pytest.raises(dp.ValidationError, match="history has no epochs"):
        plots.plot_training_curves(dp.History())
    small = dp.Network.from_sizes([2, 3, 2])
    with pytest.raises(dp.ValidationError, match="n_in=2"):
        plots.plot_first_layer_weights(small)
    (tmp_path / "file").write_text("x")
    history = dp.History()
    history.append({"loss": 1.0}, [1.0])
    with pytest.raises(dp.ValidationError, match="is a file"):
        plots.write_training_plots(history, tmp_path / "file")


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )


def test_matplotlib_is_imported_only_to_draw():
    result = run_python(
        "import sys, deltaprop, deltaprop.plots, deltaprop.explain\n"
        "assert 'matplotlib' not in sys.modules, 'imported matplotlib'\n"
    )
    assert result.returncode == 0, result.stderr


def test_missing_matplotlib_names_the_install_command():
    result = run_python(
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "import deltaprop as dp\n"
        "from deltaprop import plots\n"
        "history = dp.History()\n"
        "history.append({'loss': 1.0}, [1.0])\n"
        "try:\n"
        "    plots.plot_training_curves(history)\n"
        "except dp.DeltapropError as error:\n"
        "    assert isinstance(error, ImportError)\n"
        "    print(error)\n"
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "deltaprop[plots]"' in result.stdout


def test_labels_from_one_hot_rows_and_sigmoid_outputs():
    np.testing.assert_array_equal(plots.class_labels(np.eye(3)[[2, 0, 1]]), [2, 0, 1])
    np.testing.assert_array_equal(plots.class_labels(np.array([[0.9], [0.1]])), [1, 0])


def test_what_counts_as_classification():
    seed_mnist = dp.Network.from_sizes([4, 3], hidden="sigmoid", output="sigmoid", loss="mse")
    assert plots.is_classification(seed_mnist, np.array([0, 2, 1]))  # labels, mse network
    assert plots.is_classification(seed_mnist, np.eye(3)[[0, 2]])  # one-hot rows
    assert not plots.is_classification(seed_mnist, np.array([[0.2, 0.5, 0.3]]))
    regressor = dp.Network.from_sizes([4, 1], output="identity", loss="mse")
    assert not plots.is_classification(regressor, np.array([0.5, 1.7]))
    assert plots.is_classification(regressor, np.array([0, 1, 1]))  # XOR with mse: 0/1 targets


def test_seed_style_mnist_network_gets_a_confusion_matrix(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 4)), rng.integers(0, 3, 40)
    network = dp.Network.from_sizes([4, 3], hidden="sigmoid", output="sigmoid", loss="mse")
    paths = plots.write_evaluation_plots(network, X, np.eye(3)[y], tmp_path)
    assert [p.name for p in paths] == ["confusion_matrix.png"]
    assert_sensible_png(paths[0])
