"""The one-call training pass (``fused.py``) against the compiled engine's pass-by-pass code:
the same bits in every array it writes, for every part it has a kernel for."""

from __future__ import annotations

import os
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
