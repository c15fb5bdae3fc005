"""The one-call training pass (``fused.py``) against the compiled engine's pass-by-pass code:
the same bits in every array it writes, for every part it has a kernel for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop.validation import check_targets
from deltaprop.workspace import Workspace

fused = pytest.importorskip("deltaprop.fused", reason="numba is not installed")

SRC = Path(dp.__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]
OUTPUTS = [  # output activation, loss, targets as labels?
    ("softmax", "cross_entropy", True),
    ("softmax", "cross_entropy", False),
    ("sigmoid", "binary_cross_entropy", False),
    ("sigmoid", "mse", False),
    ("identity", "mse", False),
    ("tanh", "mse", False),
]


def batch(rng, n_in, n_out, rows, labels, dtype):
    X = rng.standard_normal((rows, n_in)).astype(dtype)
    y = rng.integers(0, n_out, rows)
    if labels:
        return X, y
    if n_out == 1:
        return X, y[:, None].astype(dtype) % 2
    return X, np.eye(n_out, dtype=dtype)[y]


def in_one_call(network, X, targets, rng=None):
    """``backprop`` with the calls of ``fused.backprop`` counted: (loss, gradients, output,
    the workspace's Z^L) and the count."""
    calls = []
    original = fused.backprop

    def counted(*args):
        calls.append(1)
        return original(*args)

    fused.backprop = counted
    try:
        work = Workspace.for_targets(network.layers, network.dtype, targets)
        loss, _, output = network.passes.backprop(X, targets, rng, work)
    finally:
        fused.backprop = original
    return (loss, work.gradient_vector.copy(), output.copy(), work.zs[-1].copy()), len(calls)


def pass_by_pass(network, X, targets):
    engine = network.passes
    work = Workspace.for_targets(network.layers, network.dtype, targets)
    cache = engine.forward(X, None, work)
    engine.backward(cache, targets, work)
    if type(network.loss).__name__ == "CrossEntropy" and targets.ndim == 1:
        from deltaprop import kernels

        loss = float(kernels.cross_entropy_from_labels(cache.zs[-1], targets))
    else:
        loss = float(network.loss.value(cache.zs[-1], cache.output, targets))
    return loss, work.gradient_vector.copy(), cache.output.copy(), cache.zs[-1].copy()


@settings(max_examples=120, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 6), max_size=2),
    activation=st.sampled_from(HIDDEN),
    output=st.sampled_from(OUTPUTS),
    n_in=st.integers(1, 5),
    n_out=st.integers(1, 4),
    rows=st.integers(1, 7),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_one_call_writes_the_same_bits_as_the_passes(
    hidden, activation, output, n_in, n_out, rows, dtype, seed
):
    output_activation, loss, labels = output
    if output_activation == "softmax":
        n_out = max(n_out, 2)
    network = dp.Network.from_sizes([n_in, *hidden, n_out], activation, output_activation, loss,
                                    dtype=dtype, seed=seed, engine="compiled")  # fmt: skip
    X, targets = batch(np.random.default_rng(seed), n_in, n_out, rows, labels, dtype)
    targets = check_targets(targets, len(X), n_out, network.loss, network.dtype)
    got, calls = in_one_call(network, X, targets)
    assert calls == 1
    expected = pass_by_pass(network, X, targets)
    assert got[0] == expected[0]
    for array, reference in zip(got[1:], expected[1:]):
        assert array.tobytes() == reference.tobytes()


def test_dropout_and_a_loss_without_a_kernel_keep_the_pass_by_pass_code():
    X, y = np.ones((4, 3), np.float32), np.array([0, 1, 0, 1])
    dropout = dp.Network([dp.Dense(3, 4, "relu", dropout=0.5), dp.Dense(4, 2, "softmax")],
                         engine="compiled")  # fmt: skip
    huber = dp.Network.from_sizes([3, 4, 2], "relu", "identity", "huber", engine="compiled")
    assert in_one_call(dropout, X, y, np.random.default_rng(0))[1] == 0
    assert in_one_call(dropout, X, y)[1] == 1  # no generator: no dropout (evaluation)
    assert in_one_call(huber, X, np.eye(2, dtype=np.float32)[y])[1] == 0


def test_without_numpys_own_blas_the_step_runs_pass_by_pass_to_the_same_bits(monkeypatch):
    from deltaprop import compiled

    X, y = np.random.default_rng(0).standard_normal((12, 3)), np.arange(12) % 2
    nets = []
    for linked in (True, False):
        monkeypatch.setattr(compiled, "_CHECKED", {np.float32: linked, np.float64: linked})
        network = dp.Network.from_sizes([3, 4, 2], "relu", engine="compiled", seed=0)
        assert in_one_call(network, X.astype(np.float32), y)[1] == int(linked)
        network.fit(X, y, epochs=2, batch_size=4)
        nets.append(network.parameter_vector.tobytes())
    assert nets[0] == nets[1]


def test_a_numpy_without_its_own_openblas_trains_on_the_compiled_engine(tmp_path):
    """As with a NumPy built against another BLAS (MKL, a system OpenBLAS): the library file
    ``blas.py`` looks for is not there. The cached kernels must not be linked then."""
    script = tmp_path / "other_blas.py"
    script.write_text(
        "import pathlib\n"
        "glob = pathlib.Path.glob\n"
        "pathlib.Path.glob = lambda self, p: iter(()) if 'openblas' in p else glob(self, p)\n"
        "import numpy as np\n"
        "import deltaprop as dp\n"
        "from deltaprop import blas\n"
        "assert not blas.AVAILABLE\n"
        "X, y = np.random.default_rng(0).standard_normal((12, 3)), np.arange(12) % 2\n"
        "net = dp.Network.from_sizes([3, 4, 2], 'relu', engine='compiled', seed=0)\n"
        "net.fit(X, y, epochs=2, batch_size=4, verbose=0)\n"
        "print(net.engine, np.isfinite(net.parameter_vector).all())\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=ENV, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["compiled", "True"]


SGDS = {
    "plain": {"lr": 0.05},
    "momentum": {"lr": 0.05, "momentum": 0.9},
    "nesterov": {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    "decay": {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.01},
}


class StepInPython(dp.SGD):
    """SGD whose own ``step`` the fit loop must call: the update made outside the one call."""

    def step(self, params, grads):
        super().step(params, grads)


def fitted(engine, optimizer, X, targets, batch_size, **network_options):
    network = dp.Network.from_sizes(engine=engine, **network_options)
    network.fit(X, targets, epochs=1, batch_size=batch_size, optimizer=optimizer)
    return network


@settings(max_examples=40, deadline=None)
@given(
    sgd=st.sampled_from(sorted(SGDS)),
    output=st.sampled_from([o for o in OUTPUTS if o[2] or o[1] == "mse"]),
    batch_size=st.sampled_from([1, 3]),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_sgd_updated_inside_the_call_gives_the_bits_of_an_update_outside_it(
    sgd, output, batch_size, dtype, seed
):
    output_activation, loss, labels = output
    X, targets = batch(np.random.default_rng(seed), 4, 3, 7, labels, dtype)
    options = dict(sizes=[4, 5, 3], hidden="relu", output=output_activation, loss=loss,
                   dtype=dtype, seed=seed)  # fmt: skip
    outside = StepInPython(**SGDS[sgd])
    reference = fitted("compiled", outside, X, targets, batch_size, **options)
    inside = dp.SGD(**SGDS[sgd])
    original, steps = dp.SGD.step, []
    dp.SGD.step = lambda self, *arrays: steps.append(1) or original(self, *arrays)
    try:
        network = fitted("compiled", inside, X, targets, batch_size, **options)
    finally:
        dp.SGD.step = original
    assert steps == []  # every update made inside the one call
    assert inside.iterations == outside.iterations == -(-len(X) // batch_size)
    assert network.parameter_vector.tobytes() == reference.parameter_vector.tobytes()
    if output_activation == "identity":  # no exp or tanh: the NumPy engine's bits too
        numpy_reference = fitted("numpy", dp.SGD(**SGDS[sgd]), X, targets, batch_size, **options)
        assert network.parameter_vector.tobytes() == numpy_reference.parameter_vector.tobytes()


def about_to_diverge(engine, what):
    """A network, inputs and targets whose first step is finite everywhere but in ``what``:
    the loss (mean squared error of targets near 1e20) or the gradient (∂L/∂W^1 of an input
    of 1e20 times a δ^1 of about 1e20, with a finite cross-entropy)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3)).astype(np.float32)
    if what == "loss":
        network = dp.Network.from_sizes([3, 4, 2], "tanh", "identity", "mse", engine=engine)
        return network, X, np.full((8, 2), 1e20, np.float32)
    network = dp.Network.from_sizes([3, 4, 2], "tanh", "softmax", engine=engine)
    first, second = network.layers
    X[:, 0] = 1e20
    first.weights[...], first.weights[:, 0], first.bias[...] = 0, 1e-21, 0.5  # a^1 = tanh(0.6)
    second.weights[...], second.weights[0] = 0, 1e20  # class 0 certain, and wrong
    return network, X, np.ones(8, np.int64)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("what", ["loss", "gradient"])
def test_a_step_that_would_diverge_is_not_updated_inside_the_call(what, batch_size):
    messages = []
    for engine in ("numpy", "compiled"):
        network, X, targets = about_to_diverge(engine, what)
        before = network.parameter_vector.copy()
        with pytest.raises(dp.DivergenceError) as raised:
            network.fit(X, targets, epochs=1, batch_size=batch_size, optimizer=dp.SGD(0.1))
        assert network.parameter_vector.tobytes() == before.tobytes()  # kept, as promised
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert f"the {what} became NaN or infinite at epoch 1, step 1;" in messages[0]


class SignalAt(dp.schedules.Constant):
    """A constant learning rate that raises SIGINT when asked for the rate of update ``at``,
    as a Ctrl-C during a call of ``fused.steps`` (which asks for its steps' rates first)."""

    def __init__(self, at: int):
        self.at = at

    def __call__(self, base_lr, step):
        if step == self.at:
            signal.raise_signal(signal.SIGINT)
        return base_lr


def history_bits(network) -> bytes:
    history = network.history
    return np.array([*history.loss, *history.get("accuracy", []),
                     *np.ravel(history.grad_norms)]).tobytes()  # fmt: skip


STEPPED = {  # optimizers that fused.steps updates with: (class, arguments)
    **{f"sgd {name}": (dp.SGD, arguments) for name, arguments in SGDS.items()},
    "adam": (dp.Adam, {"lr": 0.01}),
    "adam decay": (dp.Adam, {"lr": 0.01, "beta1": 0.8, "weight_decay": 0.01}),
    "adamw": (dp.AdamW, {"lr": 0.01, "weight_decay": 0.1}),  # a schedule: steps one by one
}


def stepping_in_python(kind):
    """``kind`` with a ``step`` of its own, which the fit loop must call: every update made
    outside any compiled call."""
    return type(f"InPython{kind.__name__}", (kind,), {"step": lambda self, *a: kind.step(self, *a)})


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(STEPPED)),
    output=st.sampled_from([o for o in OUTPUTS if o[2] or o[1] == "mse"]),
    batch_size=st.sampled_from([1, 2, 5, 41]),
    samples_per_call=st.sampled_from([1, 7, 4096]),
    cosine=st.booleans(),
    shuffle=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_steps_in_one_call_give_the_bits_and_the_history_of_steps_one_by_one(
    name, output, batch_size, samples_per_call, cosine, shuffle, dtype, seed
):
    from deltaprop import training

    output_activation, loss, labels = output
    X, targets = batch(np.random.default_rng(seed), 4, 3, 90, labels, dtype)
    schedule = dp.CosineDecay(30) if cosine else None
    kind, arguments = STEPPED[name]
    runs, original, calls = [], training.SAMPLES_PER_CALL, []
    counted = fused.steps
    training.SAMPLES_PER_CALL = samples_per_call
    fused.steps = lambda *args: calls.append(1) or counted(*args)
    try:
        for optimizer in (stepping_in_python(kind), kind):  # updates outside any call, inside
            network = dp.Network.from_sizes([4, 5, 3], "tanh", output_activation, loss,
                                            dtype=dtype, seed=seed, engine="compiled")  # fmt: skip
            optimizer = optimizer(**arguments, schedule=schedule)
            network.fit(X, targets, epochs=2, batch_size=batch_size, optimizer=optimizer,
                        shuffle=shuffle)  # fmt: skip
            runs.append((network.parameter_vector.tobytes(), history_bits(network),
                         optimizer.iterations))  # fmt: skip
    finally:
        training.SAMPLES_PER_CALL, fused.steps = original, counted
    full_batches = len(X) // batch_size
    per_call = max(samples_per_call // batch_size, 1)
    in_calls = not (kind is dp.AdamW and cosine)  # AdamW's shrink would change every step
    assert len(calls) == 2 * -(-full_batches // per_call) * in_calls  # none stepping in Python
    assert runs[1] == runs[0]


@pytest.mark.parametrize("kind", [dp.SGD, dp.Adam])
@pytest.mark.parametrize("what", ["loss", "gradient"])
def test_a_step_that_would_diverge_inside_a_call_of_many_stops_it_there(what, kind):
    """Steps 1 and 2 are made in one call, step 3 (a row that makes ``what`` non-finite) is
    left to the fit loop, which raises naming it, with the parameters from before it."""
    kept, messages = [], []
    for optimizer in (stepping_in_python(kind)(0.1), kind(0.1)):
        network, X, targets = about_to_diverge("compiled", what)
        fine = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
        X[:2], targets = fine, targets.copy()
        targets[:2] = 0
        with pytest.raises(dp.DivergenceError) as raised:
            network.fit(X, targets, epochs=1, batch_size=1, shuffle=False, optimizer=optimizer)
        assert optimizer.iterations == 2
        kept.append(network.parameter_vector.tobytes())
        messages.append(str(raised.value))
    assert kept[0] == kept[1] and messages[0] == messages[1]
    assert f"the {what} became NaN or infinite at epoch 1, step 3;" in messages[0]


def test_ctrl_c_during_a_call_of_many_steps_stops_after_it_and_resumes_to_the_same_bits(
    tmp_path,
):
    X, targets = batch(np.random.default_rng(3), 4, 3, 40, True, "float32")

    def fit(optimizer, **options):
        network = dp.Network.from_sizes([4, 6, 3], "relu", seed=2, engine="compiled")
        network.fit(X, targets, epochs=2, batch_size=1, optimizer=optimizer, **options)
        return network

    reference = fit(dp.SGD(0.05, momentum=0.9))
    path = tmp_path / "run.ckpt"
    with pytest.raises(dp.TrainingInterrupted, match="at epoch 2, step 32"):
        from deltaprop import training

        original, training.SAMPLES_PER_CALL = training.SAMPLES_PER_CALL, 16
        try:  # calls of 16 steps; SIGINT while the one of steps 17-32 of epoch 2 starts
            fit(dp.SGD(0.05, momentum=0.9, schedule=SignalAt(40 + 20)), checkpoint=path)
        finally:
            training.SAMPLES_PER_CALL = original
    resumed = fit(dp.SGD(0.05, momentum=0.9), resume=path)
    assert resumed.parameter_vector.tobytes() == reference.parameter_vector.tobytes()
    assert history_bits(resumed) == history_bits(reference)


def test_a_fit_that_cannot_have_calls_of_many_steps_asks_once_an_epoch():
    network = dp.Network.from_sizes([4, 5, 3], "relu", seed=0, engine="compiled")
    X, targets = batch(np.random.default_rng(0), 4, 3, 40, True, "float32")
    asked, original = [], network.passes.train_steps
    network.passes.train_steps = lambda *args: asked.append(1) or original(*args)
    network.fit(X, targets, epochs=2, batch_size=4, optimizer=dp.RMSprop(0.01))  # no such call
    assert len(asked) == 2


def test_the_one_call_compiles_once_per_dtype_for_a_single_step_and_for_many():
    # backprop from fused.steps, and from train_step for Adam, with the same argument types: a
    # literal among them would compile the whole pass once more (seconds of a first run)
    for dtype in ("float32", "float64"):
        X, targets = batch(np.random.default_rng(0), 4, 3, 8, True, dtype)
        for optimizer in (dp.SGD(0.1), dp.Adam(0.01)):
            network = dp.Network.from_sizes([4, 5, 3], "relu", dtype=dtype, engine="compiled")
            network.fit(X, targets, epochs=1, batch_size=4, optimizer=optimizer)
    inputs = [signature[0] for signature in fused.backprop.signatures]
    assert len(inputs) >= 2 and len(set(inputs)) == len(inputs)
