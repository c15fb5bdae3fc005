"""ONNX export, checked by running the exported model in onnxruntime."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require

onnx = require("onnx")
ort = require("onnxruntime")

import deltaprop as dp  # noqa: E402
from deltaprop.activations import ELU, LeakyReLU  # noqa: E402
from deltaprop.onnx import DEFAULT_OPSET, export, to_onnx  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
HIDDEN = ["identity", "sigmoid", "tanh", "relu", LeakyReLU(0.2), ELU(0.5), "gelu", "softplus"]
OUTPUTS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), (None, "mse")]
STANDARD_OPS = {"Gemm", "Relu", "Sigmoid", "Tanh", "Softmax", "LeakyRelu", "Elu", "Softplus"}
GELU_OPS = {"Erf", "Mul", "Add", "Gelu"}


def network(hidden, output="softmax", loss="cross_entropy", dtype="float32", seed=0):
    """A 3-layer network with random (non-zero) biases, so that the bias path is tested."""
    net = dp.Network(
        [
            dp.Dense(12, 16, activation=hidden),
            dp.Dense(16, 8, activation=hidden),
            dp.Dense(8, 5, activation=output),
        ],
        loss=loss,
        dtype=dtype,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        layer.bias = rng.normal(size=layer.n_out)
    return net


def inputs(n=1000, dtype="float32", seed=1, scale=1.0):
    """Standard normal rows: outputs stay below ~10, where 1e-5 is a few float32 ulp."""
    return (scale * np.random.default_rng(seed).normal(size=(n, 12))).astype(dtype)


def run_onnx(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": X})[0]


@pytest.mark.parametrize("opset", [13, DEFAULT_OPSET, 20])
@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda a: getattr(a, "name", a))
@pytest.mark.parametrize(("output", "loss"), OUTPUTS, ids=["softmax", "sigmoid", "identity"])
def test_onnxruntime_matches_deltaprop(tmp_path, hidden, output, loss, opset):
    net = network(hidden, output, loss)
    path = tmp_path / "model.onnx"
    export(net, path, opset=opset)
    X = inputs()
    got = run_onnx(path, X)
    assert got.dtype == np.float32 and got.shape == (1000, 5)
    assert np.abs(got - net.forward(X)).max() <= 1e-5
    # Dynamic batch dimension: one row works as well as 1,000.
    np.testing.assert_allclose(run_onnx(path, X[:1]), got[:1], atol=1e-6)


@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda a: getattr(a, "name", a))
def test_large_inputs_stay_finite_and_agree_relatively(tmp_path, hidden):
    """Pre-activations in the hundreds: saturated sigmoid/softplus/softmax, overflow-prone exp."""
    net = network(hidden)
    export(net, tmp_path / "model.onnx")
    X = inputs(scale=100.0)
    got = run_onnx(tmp_path / "model.onnx", X)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, net.forward(X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("opset", "gelu_ops"), [(17, {"Erf", "Mul", "Add"}), (20, {"Gelu"})])
def test_graph_uses_standard_operators_only(opset, gelu_ops):
    model = to_onnx(network("gelu"), opset=opset)
    ops = {node.op_type for node in model.graph.node}
    assert {node.domain for node in model.graph.node} == {""}
    assert ops == {"Gemm", "Softmax"} | gelu_ops
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param == "N" and not batch.HasField("dim_value")
    assert [i.name for i in model.graph.initializer][:2] == ["0.weight", "0.bias"]
    onnx.checker.check_model(model, full_check=True)


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu"])
def test_float64_model_matches_to_float64_precision(tmp_path, hidden):
    net = network(hidden, dtype="float64")
    export(net, tmp_path / "model.onnx")
    X = inputs(dtype="float64")
    got = run_onnx(tmp_path / "model.onnx", X)
    assert got.dtype == np.float64
    assert np.abs(got - net.forward(X)).max() <= 1e-12


def test_float64_network_exported_as_float32(tmp_path):
    net = network("elu", dtype="float64")
    export(net, tmp_path / "model.onnx", dtype="float32")
    X = inputs()
    assert np.abs(run_onnx(tmp_path / "model.onnx", X) - net.forward(X)).max() <= 1e-5


@pytest.mark.parametrize(("opset", "error"), [(12, dp.ValidationError), ("17", TypeError)])
def test_bad_opset_is_refused(tmp_path, opset, error):
    with pytest.raises(error, match="opset"):
        export(network("relu"), tmp_path / "model.onnx", opset=opset)
    assert list(tmp_path.iterdir()) == []


def test_export_replaces_a_file_atomically(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    export(network("tanh"), path)
    assert onnx.load(str(path)).producer_name == "deltaprop"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "deltaprop", *args], env=env, capture_output=True, text=True
    )


def test_cli_export(tmp_path):
    require("safetensors")
    net = network("gelu")
    net.save(tmp_path / "model.safetensors")
    result = _cli("export", str(tmp_path / "model.safetensors"), str(tmp_path / "m.onnx"))
    assert result.returncode == 0, result.stderr
    assert "opset 17" in result.stdout
    X = inputs()
    assert np.abs(run_onnx(tmp_path / "m.onnx", X) - net.forward(X)).max() <= 1e-5


def test_cli_export_errors_are_one_line(tmp_path):
    result = _cli("export", str(tmp_path / "missing.safetensors"), str(tmp_path / "m.onnx"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def test_import_deltaprop_does_not_import_onnx():
    code = "import sys, deltaprop, deltaprop.cli; deltaprop.cli.build_parser(); "
    code += "print(sorted({'onnx', 'onnxruntime'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
