"""The two engines compute the same equations: the NumPy reference and the compiled kernels.

Where no transcendental function is involved (identity, ReLU and leaky-ReLU layers, mean
squared error, every optimizer) training gives the same bits on both; where the C library's
tanh or exp stands in for NumPy's, one step differs by a few units in the last place. Every
other test of the suite runs on the compiled engine where numba is installed (``engine="auto"``)
and on the NumPy engine where it is not (CI runs both); these tests put the two side by side.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import engines
from deltaprop.cli import main
from deltaprop.engines import numba_installed

needs_numba = pytest.mark.skipif(
    not numba_installed(),
    reason='numba is not installed (pip install "deltaprop[fast]"): no compiled engine to test',
)
SRC = Path(dp.__file__).resolve().parent.parent

OPTIMIZERS = {
    "sgd": lambda: dp.SGD(lr=0.05),
    "sgd-decay": lambda: dp.SGD(lr=0.05, weight_decay=0.01),
    "momentum": lambda: dp.SGD(lr=0.05, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda: dp.SGD(lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda: dp.Adam(lr=0.01, weight_decay=0.01),
    "adamw": lambda: dp.AdamW(lr=0.01),
    "rmsprop": lambda: dp.RMSprop(lr=0.01, weight_decay=0.001),
    "adagrad": lambda: dp.Adagrad(lr=0.05, clip_norm=0.5),
}


def regression(n=120, n_in=6, n_out=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in)).astype(dtype)
    return X, (X[:, :n_out] * 0.5 - X[:, 1:2] ** 2 * 0.1).astype(dtype)


def classification(n=120, n_in=6, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)


def trained(engine, hidden, optimizer, dtype="float32", dropout=0.25, epochs=3, **fit):
    X, Y = regression(dtype=dtype)
    net = dp.Network.from_sizes(
        [6, 16, 8, 3], hidden=hidden, output="identity", loss="mse", dtype=dtype, seed=4,
        dropout=dropout, engine=engine,
    )  # fmt: skip
    history = net.fit(X, Y, epochs=epochs, batch_size=16, optimizer=optimizer, **fit)
    return net, history


# ---------------------------------------------------------------------- choosing an engine
def test_import_deltaprop_never_imports_numba():
    code = (
        "import sys, deltaprop as dp; dp.Network.from_sizes([2, 3]); print('numba' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_auto_is_compiled_exactly_when_numba_is_installed():
    net = dp.Network.from_sizes([2, 3, 2])
    assert net.engine == ("compiled" if numba_installed() else "numpy")
    assert dp.Network.from_sizes([2, 2], engine="numpy").engine == "numpy"
    assert f"engine={net.engine!r}" in repr(net)


def test_compiled_without_numba_names_the_extra(monkeypatch):
    monkeypatch.setattr(engines, "numba_installed", lambda: False)
    with pytest.raises(dp.MissingDependencyError, match=r'pip install "deltaprop\[fast\]"'):
        dp.Network.from_sizes([2, 2], engine="compiled")
    assert dp.Network.from_sizes([2, 2], engine="auto").engine == "numpy"


@pytest.mark.skipif(numba_installed(), reason="numba is installed here")
def test_compiled_really_without_numba_is_one_clear_error():
    with pytest.raises(dp.MissingDependencyError, match=r"needs numba.*deltaprop\[fast\]"):
        dp.Network.from_sizes([2, 2], engine="compiled")


@pytest.mark.parametrize("bad", ["fast", "", "jax"])
def test_an_unknown_engine_is_refused_with_the_choices(bad):
    with pytest.raises(dp.ValidationError, match="choose one of auto, numpy, compiled"):
        dp.Network.from_sizes([2, 2], engine=bad)


def test_an_engine_that_is_not_a_string_is_a_type_error():
    with pytest.raises(dp.DeltapropTypeError, match="engine must be a string"):
        dp.Network.from_sizes([2, 2], engine=1)


# ---------------------------------------------------------------------- the parameter vector
def test_every_layer_views_the_one_parameter_vector():
    net = dp.Network.from_sizes([4, 5, 3], seed=1)
    vector = net.parameter_vector
    assert vector.shape == (net.n_parameters(),) == (4 * 5 + 5 + 5 * 3 + 3,)
    pieces = [array.ravel() for array in net.parameters()]
    np.testing.assert_array_equal(np.concatenate(pieces), vector)
    for layer in net.layers:
        assert layer.weights.base is vector and layer.bias.base is vector
        assert layer.weights.shape == (layer.n_out, layer.n_in) and layer.weights.flags.writeable


def test_writing_or_assigning_weights_lands_in_the_vector():
    net = dp.Network.from_sizes([4, 5, 3], seed=1)
    layer = net.layers[1]
    layer.weights[...] = 2.0
    layer.bias = np.arange(3)
    new = np.full((3, 5), 7.0)
    net.layers[0].weights = np.ones((5, 4))
    assert layer.weights.base is net.parameter_vector
    np.testing.assert_array_equal(net.parameter_vector[20:25], 0)  # b^1 untouched
    np.testing.assert_array_equal(net.parameter_vector[:20], 1)
    np.testing.assert_array_equal(net.parameter_vector[25:40], 2)
    np.testing.assert_array_equal(net.parameter_vector[40:], [0, 1, 2])
    layer.weights = new
    new[...] = 0  # the layer holds a copy, as before
    np.testing.assert_array_equal(layer.weights, 7)
    with pytest.raises(dp.ValidationError, match=r"shape \(3, 5\)"):
        layer.weights = np.ones((5, 3))


def test_copies_and_casts_get_their_own_consistent_vector():
    net = dp.Network.from_sizes([4, 5, 3], seed=1)
    for clone in (net.copy(), net.copy("float64")):
        assert clone.parameter_vector is not net.parameter_vector
        for layer in clone.layers:
            assert layer.weights.base is clone.parameter_vector
        clone.layers[0].weights[...] = 9
        assert not np.any(net.layers[0].weights == 9)
        np.testing.assert_array_equal(clone.parameter_vector[:20], 9)
    assert net.copy("float64").parameter_vector.dtype == np.float64


def test_layers_moved_into_another_network_leave_both_consistent():
    first = dp.Network.from_sizes([4, 5, 3], seed=1)
    second = dp.Network(first.layers, seed=2)
    X, y = classification(n_in=4)
    first.fit(X, y, epochs=1, batch_size=32, optimizer=dp.SGD(lr=0.1))
    for layer in first.layers:
        assert layer.weights.base is first.parameter_vector
    assert second.n_parameters() == first.n_parameters()


def test_the_parameter_vector_of_a_network_whose_layers_moved_is_current():
    first = dp.Network.from_sizes([4, 5, 3], seed=1)
    second = dp.Network(first.layers, seed=2)  # the layers now view second's vector
    second.layers[0].weights[...] = 3.0
    vector = first.parameter_vector
    np.testing.assert_array_equal(vector[:20], 3)
    np.testing.assert_array_equal(vector, np.concatenate([p.ravel() for p in first.parameters()]))
    for layer in first.layers:
        assert layer.weights.base is vector and layer.bias.base is vector


def test_a_copied_optimizer_keeps_its_state_in_one_vector_of_its_own():
    X, Y = regression()
    net, _ = trained("numpy", "relu", dp.Adam(lr=0.01), epochs=1)
    optimizer = dp.Adam(lr=0.01)
    net.fit(X, Y, epochs=1, batch_size=16, optimizer=optimizer)
    twin, twin_optimizer = net.copy(), copy.deepcopy(optimizer)
    for network, opt in ((net, optimizer), (twin, twin_optimizer)):
        network.fit(X, Y, epochs=2, batch_size=16, optimizer=opt)
    assert twin.parameter_vector.tobytes() == net.parameter_vector.tobytes()
    for slot, arrays in twin_optimizer.state_dict()["state"].items():
        for mine, theirs in zip(arrays, optimizer.state[slot]):
            np.testing.assert_array_equal(mine, theirs)  # the saved views follow the updates


# ---------------------------------------------------------------------- the engines agree
@needs_numba
@pytest.mark.parametrize("hidden", ["relu", "leaky_relu", "identity"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_gives_the_same_bits_on_both_engines(hidden, name):
    reference, expected = trained("numpy", hidden, OPTIMIZERS[name]())
    compiled, history = trained("compiled", hidden, OPTIMIZERS[name]())
    assert compiled.parameter_vector.tobytes() == reference.parameter_vector.tobytes()
    assert history.loss == expected.loss
    assert compiled.rng.bit_generator.state == reference.rng.bit_generator.state


@needs_numba
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_one_sample_at_a_time_gives_the_same_bits_on_both_engines(name):
    """Batches of one take the outer-product path of ∂L/∂W on both engines."""
    X, Y = regression(n=40)
    results = []
    for engine in ("numpy", "compiled"):
        net = dp.Network.from_sizes(
            [6, 16, 8, 3], output="identity", loss="mse", seed=4, engine=engine
        )
        history = net.fit(X, Y, epochs=1, batch_size=1, optimizer=OPTIMIZERS[name]())
        results.append((net.parameter_vector.tobytes(), history.loss))
    assert results[0] == results[1]


def retrained_on_both_engines(hidden: str, change) -> list:
    """``[(net, history)]`` on the NumPy then the compiled engine: one epoch of SGD, then
    ``change(net)``, then the second epoch's history."""
    X, Y = regression()
    results = []
    for engine in ("numpy", "compiled"):
        net = dp.Network.from_sizes(
            [6, 16, 8, 3], hidden=hidden, output="identity", loss="mse", seed=4, engine=engine
        )
        net.fit(X, Y, epochs=1, batch_size=16, optimizer=dp.SGD(lr=0.05))
        change(net)
        results.append((net, net.fit(X, Y, epochs=1, batch_size=16, optimizer=dp.SGD(lr=0.05))))
    return results


@needs_numba
@pytest.mark.parametrize("alpha", [0.5, 0.0])  # 0: a leaky ReLU that is a ReLU
def test_both_engines_use_an_alpha_changed_after_training_began(alpha):
    def set_alpha(net):
        for layer in net.layers[:-1]:
            layer.activation.alpha = alpha

    (reference, expected), (compiled, history) = retrained_on_both_engines("leaky_relu", set_alpha)
    assert compiled.parameter_vector.tobytes() == reference.parameter_vector.tobytes()
    assert history.loss == expected.loss
    X, _ = regression()
    assert compiled.forward(X).tobytes() == reference.forward(X).tobytes()


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classification_agrees_to_rounding_through_softmax(dtype):
    X, y = classification()
    nets = []
    for engine in ("numpy", "compiled"):
        net = dp.Network.from_sizes([6, 12, 3], dtype=dtype, seed=2, engine=engine)
        net.fit(X, y, epochs=2, batch_size=16, optimizer=dp.Adam(lr=0.01))
        nets.append(net)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(nets[1].parameter_vector, nets[0].parameter_vector, atol=200 * eps)
    np.testing.assert_array_equal(nets[1].predict(X), nets[0].predict(X))


@needs_numba
@pytest.mark.parametrize(
    ("hidden", "output", "loss"),
    [
        ("tanh", "sigmoid", "mse"),
        ("sigmoid", "softmax", "cross_entropy"),
        ("relu", "sigmoid", "binary_cross_entropy"),
        ("gelu", "identity", "huber"),
        ("elu", "softmax", "mse"),
        ("softplus", "tanh", "mae"),
    ],
)
def test_one_step_differs_by_at_most_a_few_ulp(hidden, output, loss):
    X, Y = regression(n=32)
    Y = np.clip(Y * 0.5 + 0.5, 0, 1) if loss != "cross_entropy" else (X[:, 0] > 0).astype(int)
    results = []
    for engine in ("numpy", "compiled"):
        net = dp.Network.from_sizes(
            [6, 10, 3], hidden=hidden, output=output, loss=loss, seed=5, engine=engine
        )
        value, grads = net.gradients(X, Y)
        net.fit(X, Y, epochs=1, batch_size=32, shuffle=False, optimizer=dp.SGD(lr=0.1))
        results.append((value, [g.copy() for pair in grads for g in pair], net.parameter_vector))
    (loss_n, grads_n, params_n), (loss_c, grads_c, params_c) = results
    assert loss_c == pytest.approx(loss_n, rel=1e-6)
    # A few units in the last place of each array's largest entry: an entry that is a sum of
    # cancelling terms carries the rounding of its terms, not of its own size.
    eps = np.finfo(np.float32).eps
    for a, b in zip(grads_c, grads_n):
        assert np.max(np.abs(a - b)) <= 8 * eps * np.max(np.abs(b))
    assert np.max(np.abs(params_c - params_n)) <= 4 * eps * np.max(np.abs(params_n))


@needs_numba
def test_inference_agrees_and_the_workspace_layouts_all_work():
    X, y = classification(n=300)
    net = dp.Network.from_sizes([6, 9, 7, 3], hidden="leaky_relu", seed=3, engine="compiled")
    reference = net.copy()
    reference.engine = "numpy"
    np.testing.assert_array_max_ulp(net.forward(X), reference.forward(X), maxulp=2)
    soft = np.eye(3, dtype=np.float32)[y] * 0.9 + 0.1 / 3  # row targets: row-major output layer
    for targets in (y, soft):
        loss, grads = net.gradients(X, targets)
        expected_loss, expected = reference.gradients(X, targets)
        assert loss == pytest.approx(expected_loss, rel=1e-6)
        for (dw, db), (ew, eb) in zip(grads, expected):
            np.testing.assert_allclose(dw, ew, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(db, eb, rtol=1e-5, atol=1e-7)


@needs_numba
def test_gradcheck_and_explain_pass_on_the_compiled_engine():
    X, y = classification(n=8)
    net = dp.Network.from_sizes([6, 5, 3], hidden="tanh", seed=1, engine="compiled")
    assert dp.gradcheck(net, X, y).passed
    explanation = dp.explain(net, X[:2], y[:2])
    reference = net.copy()
    reference.engine = "numpy"
    expected = dp.explain(reference, X[:2], y[:2])
    assert explanation.loss == pytest.approx(expected.loss, rel=1e-6)
    assert explanation.loss_after == pytest.approx(expected.loss_after, rel=1e-5)


@needs_numba
@pytest.mark.parametrize("name", ["adam", "momentum"])
def test_resume_from_a_mid_epoch_checkpoint_is_bit_identical_compiled(tmp_path, name):
    X, Y = regression()
    straight, _ = trained("compiled", "relu", OPTIMIZERS[name](), epochs=4)
    optimizer = OPTIMIZERS[name]()
    step = optimizer.step

    def step_then_interrupt(params, grads):  # Ctrl-C in the middle of epoch 2 (8 steps each)
        step(params, grads)
        if optimizer.iterations == 11:
            signal.raise_signal(signal.SIGINT)

    optimizer.step = step_then_interrupt
    path = tmp_path / "run.safetensors"
    with pytest.raises(dp.TrainingInterrupted, match="epoch 2, step 3"):
        trained("compiled", "relu", optimizer, epochs=4, checkpoint=path)
    resumed = dp.Network.from_sizes(
        [6, 16, 8, 3], output="identity", loss="mse", seed=4, dropout=0.25, engine="compiled"
    )
    resumed.fit(X, Y, epochs=4, batch_size=16, optimizer=OPTIMIZERS[name](), resume=path)
    assert resumed.parameter_vector.tobytes() == straight.parameter_vector.tobytes()


@needs_numba
def test_dropout_is_reproducible_and_equals_the_numpy_engines():
    runs = [trained(engine, "relu", dp.SGD(lr=0.05), dropout=0.5)[0] for engine in
            ("compiled", "compiled", "numpy")]  # fmt: skip
    assert len({net.parameter_vector.tobytes() for net in runs}) == 1


@needs_numba
def test_a_user_optimizer_without_a_kernel_still_trains_with_its_own_update():
    class HalfSGD(dp.SGD):
        def _update(self, param, grad, lr, state, scratch, decayed):
            param -= np.multiply(grad, lr / 2, out=grad)

    reference, _ = trained("numpy", "relu", dp.SGD(lr=0.025))
    compiled, _ = trained("compiled", "relu", HalfSGD(lr=0.05))
    assert compiled.parameter_vector.tobytes() == reference.parameter_vector.tobytes()


@needs_numba
def test_divergence_is_caught_on_the_compiled_engine():
    X, Y = regression()
    net = dp.Network.from_sizes([6, 8, 3], output="identity", loss="mse", engine="compiled")
    with pytest.raises(dp.DivergenceError, match="diverged"):
        net.fit(X * 1e4, Y * 1e6, epochs=50, batch_size=30, optimizer=dp.SGD(lr=10.0))


# ---------------------------------------------------------------------- the on-disk cache
TRAIN_AND_REPORT = """
import numpy as np, deltaprop as dp
from deltaprop import fused
X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
net = dp.Network.from_sizes([3, 4, 2], engine="compiled")
net.fit(X, (X[:, 0] > 0).astype(int), epochs=1, batch_size=8, optimizer=dp.Adam())
print(net.engine, sum(fused.steps.stats.cache_hits.values()))
"""


def run_copy(package_root: Path, home: Path):
    """Train with the package copy at ``package_root``, as a user whose home is ``home``."""
    env = {**os.environ, "PYTHONPATH": str(package_root), "HOME": str(home)}
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("XDG_CACHE_HOME", None)
    return subprocess.run(
        [sys.executable, "-c", TRAIN_AND_REPORT], capture_output=True, text=True, env=env, cwd=home
    )


def unwritable(directory: Path, cache_name: str) -> None:
    """Make ``directory`` read-only. Root writes into read-only directories anyway, so there a
    file named ``cache_name`` also stands where the cache directory would be created."""
    if os.geteuid() == 0:
        (directory / cache_name).write_text("")
    for root, _dirs, files in os.walk(directory):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        os.chmod(root, 0o555)


@needs_numba
def test_a_read_only_package_caches_in_the_users_directory_or_compiles(tmp_path):
    package_root = tmp_path / "site"
    shutil.copytree(SRC / "deltaprop", package_root / "deltaprop",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    unwritable(package_root / "deltaprop", "__pycache__")
    home = tmp_path / "home"
    home.mkdir()
    try:
        first, second = run_copy(package_root, home), run_copy(package_root, home)
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        assert first.stdout.split()[0] == "compiled"
        assert second.stdout.split()[1] != "0", "the second run compiled again"
        assert list((home / ".cache" / "numba").rglob("*.nbi")), "nothing cached"
        assert not list(package_root.rglob("*.nbi"))
        shutil.rmtree(home / ".cache")
        unwritable(home, ".cache")  # no writable cache anywhere: still trains, compiling
        third = run_copy(package_root, home)
        assert third.returncode == 0, third.stderr
        assert third.stdout.split() == ["compiled", "0"]
    finally:
        for root, _dirs, _files in os.walk(tmp_path):
            os.chmod(root, 0o755)


# ---------------------------------------------------------------------- the command line
def train_command(capsys, tmp_path, *flags):
    X, y = classification(n=90)
    data = tmp_path / "data.npz"
    np.savez(data, x_train=X[:60], y_train=y[:60], x_test=X[60:], y_test=y[60:])
    args = ["train", "--data", data, "--layers", "8", "--epochs", "1", "--out",
            tmp_path / "m.safetensors", *flags]  # fmt: skip
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_train_names_its_engine_in_its_first_line(capsys, tmp_path, engine):
    status, _, err = train_command(capsys, tmp_path, "--engine", engine)
    assert status == 0, err
    resolved = "numpy" if engine == "numpy" or not numba_installed() else "compiled"
    assert (
        err.splitlines()[0].startswith("training 6-8-3 (")
        and f"{resolved} engine" in (err.splitlines()[0])
    )


def test_train_with_an_unknown_engine_is_a_usage_error(capsys, tmp_path):
    status, _, err = train_command(capsys, tmp_path, "--engine", "fast")
    assert status == 2 and "--engine" in err and "compiled" in err


def test_train_compiled_without_numba_says_what_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "numba_installed", lambda: False)
    status, _, err = train_command(capsys, tmp_path, "--engine", "compiled")
    assert status != 0
    assert 'pip install "deltaprop[fast]"' in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.safetensors").exists()


# ---------------------------------------------------------------------- scikit-learn
@pytest.mark.filterwarnings("ignore:.*stopped after epochs")  # a few epochs are enough here
def test_the_estimators_train_on_the_engine_they_are_given():
    sklearn = pytest.importorskip("deltaprop.sklearn")
    X, Y = regression(n=60)
    engines_here = ["numpy", "compiled"] if numba_installed() else ["numpy"]
    fitted = []
    for engine in engines_here:
        model = sklearn.DeltapropRegressor((8,), epochs=3, random_state=0, engine=engine)
        fitted.append(model.fit(X, Y))
        assert model.network_.engine == engine and model.get_params()["engine"] == engine
    # ReLU, identity output, squared error, Adam: the same bits on both engines
    assert len({model.predict(X).tobytes() for model in fitted}) == 1
    classifier = sklearn.DeltapropClassifier((4,), epochs=1, engine="numpy")
    assert classifier.fit(X, X[:, 0] > 0).network_.engine == "numpy"


# ---------------------------------------------------------------------- every path of the engine
def engine_pair(**kwargs):
    """The same network on the NumPy engine and on the compiled one."""
    return [dp.Network.from_sizes(engine=engine, **kwargs) for engine in ("numpy", "compiled")]


@needs_numba
def test_explain_gradients_and_evaluate_agree_bit_for_bit_with_dropout_layers():
    X, Y = regression(n=40)
    reference, compiled = engine_pair(
        sizes=[6, 10, 8, 3], output="identity", loss="mse", seed=3, dropout=0.3
    )
    # dropout is off outside training: no mask of a layer with dropout may reach the gradients
    (loss_n, grads_n), (loss_c, grads_c) = reference.gradients(X, Y), compiled.gradients(X, Y)
    assert loss_c == loss_n
    for pair_c, pair_n in zip(grads_c, grads_n):
        for c, n in zip(pair_c, pair_n):
            assert c.dtype == np.float32 and c.tobytes() == n.tobytes()
    assert compiled.evaluate(X, Y) == reference.evaluate(X, Y)
    expected, explanation = (
        dp.explain(net, X[:5], Y[:5], max_checks=4) for net in (reference, compiled)
    )
    assert explanation.loss == expected.loss and explanation.loss_after == expected.loss_after
    for mine, theirs in zip(explanation.layers, expected.layers):
        for name in ("z", "a", "delta", "grad_weights", "grad_bias"):
            assert getattr(mine, name).dtype == np.float32
            assert getattr(mine, name).tobytes() == getattr(theirs, name).tobytes(), name


@needs_numba
def test_explain_of_a_deep_classifier_steps_to_the_same_loss_on_both_engines():
    X, y = classification(n=12)
    reference, compiled = engine_pair(sizes=[6, 10, 8, 3], seed=3)
    expected, explanation = (dp.explain(net, X, y, lr=0.5) for net in (reference, compiled))
    assert explanation.loss_after == pytest.approx(expected.loss_after, rel=1e-6)
    assert explanation.loss_after != pytest.approx(explanation.loss, rel=1e-3)


@needs_numba
def test_dropout_before_activations_with_and_without_a_kernel_trains_as_on_numpy():
    X, Y = regression()
    nets = []
    for engine in ("numpy", "compiled"):
        layers = [
            dp.Dense(6, 10, activation="relu", dropout=0.3),
            dp.Dense(10, 8, activation="elu", dropout=0.3),  # ELU: NumPy code on both engines
            dp.Dense(8, 3, activation="identity"),
        ]
        net = dp.Network(layers, loss="mse", seed=4, engine=engine)
        net.fit(X, Y, epochs=2, batch_size=16, optimizer=dp.SGD(lr=0.05))
        nets.append(net)
    assert nets[1].parameter_vector.tobytes() == nets[0].parameter_vector.tobytes()


@needs_numba
def test_replacing_every_layers_activation_between_fits_is_used():
    def replace(net):
        for layer in net.layers:  # a new activation object in every layer
            layer.activation = dp.get_activation("relu")

    (reference, _), (compiled, _) = retrained_on_both_engines("identity", replace)
    assert compiled.parameter_vector.tobytes() == reference.parameter_vector.tobytes()
    assert compiled.forward(regression()[0]).min() >= 0


KERNELS_OF_A_STEP = [  # "backprop": the whole forward and backward pass in one call (fused.py)
    # plain SGD and Adam: the fit loop's steps in one call, fused.steps, which updates too
    ("tanh", "sigmoid", "mse", "rows", dp.Adam, {"steps"}),
    ("tanh", "sigmoid", "mse", "rows", lambda: dp.Adam(clip_norm=1.0), {"backprop", "adam"}),
    ("relu", "softmax", "cross_entropy", "labels", lambda: dp.SGD(momentum=0.9), {"steps"}),
    ("relu", "softmax", "cross_entropy", "labels", lambda: dp.SGD(clip_norm=1.0),
     {"backprop", "sgd"}),
    ("tanh", "sigmoid", "binary_cross_entropy", "rows", dp.SGD, {"backprop", "sgd"}),
    ("sigmoid", "softmax", "cross_entropy", "rows", dp.RMSprop, {"backprop", "rmsprop"}),
    ("leaky_relu", "sigmoid", "binary_cross_entropy", "rows", dp.Adagrad,
     {"backprop", "adagrad"}),
    ("elu", "identity", "huber", "rows", lambda: dp.AdamW(weight_decay=0.1),
     {"bias_activation", "adam"}),
    ("relu", "softmax", "mse", "rows", dp.SGD,  # softmax's σ' has no kernel
     {"bias_activation", "bias_softmax", "activation_backward", "sgd"}),
]  # fmt: skip


def recording(kernel, name, called):
    """``kernel``, adding ``name`` to the set ``called`` at each call."""

    def record(*args):
        called.add(name)
        return kernel(*args)

    return record


@needs_numba
@pytest.mark.parametrize(("hidden", "output", "loss", "targets", "optimizer", "expected"),
                         KERNELS_OF_A_STEP)  # fmt: skip
def test_a_training_step_runs_in_the_kernels_that_exist_for_it(
    monkeypatch, hidden, output, loss, targets, optimizer, expected
):
    from deltaprop import fused, kernels

    called = set()
    for name in ("bias_activation", "bias_softmax", "activation_backward", "dropout",
                 "cross_entropy_from_labels", "delta_from_labels", "delta_from_rows", "sgd",
                 "adam", "rmsprop", "adagrad"):  # fmt: skip
        monkeypatch.setattr(kernels, name, recording(getattr(kernels, name), name, called))
    for name in ("backprop", "steps"):
        monkeypatch.setattr(fused, name, recording(getattr(fused, name), name, called))
    X, y = classification(n=16)
    Y = np.eye(3, dtype=np.float32)[y] if targets == "rows" else y
    net = dp.Network.from_sizes([6, 5, 4, 3], hidden=hidden, output=output, loss=loss, seed=1,
                                engine="compiled")  # fmt: skip
    net.fit(X, Y, epochs=1, batch_size=16, optimizer=optimizer())
    assert called == expected


@needs_numba
@pytest.mark.parametrize("name", ["momentum", "adam", "rmsprop", "adagrad"])
def test_an_optimizer_with_state_in_another_dtype_updates_as_on_numpy(name):
    nets = []
    for engine in ("numpy", "compiled"):
        optimizer = OPTIMIZERS[name]()
        trained(engine, "relu", optimizer, dtype="float64", epochs=1)  # float64 state
        nets.append(trained(engine, "relu", optimizer, epochs=1)[0])  # on a float32 network
    assert nets[1].parameter_vector.tobytes() == nets[0].parameter_vector.tobytes()
