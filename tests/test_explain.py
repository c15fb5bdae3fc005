"""``deltaprop.explain`` against an independent computation in the seed's column form."""

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
from deltaprop.explain import explain, format_markdown, format_text

SRC = str(Path(__file__).resolve().parents[1] / "src")

# A 2-3-2 network with weights written out, so that the numbers below can be checked by hand.
W1 = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]])
B1 = np.array([0.01, -0.02, 0.03])
W2 = np.array([[0.7, -0.8, 0.9], [-0.1, 0.2, -0.3]])
B2 = np.array([0.05, -0.05])


def network_232(hidden="sigmoid", output="sigmoid", loss="mse") -> dp.Network:
    layers = [dp.Dense(2, 3, activation=hidden), dp.Dense(3, 2, activation=output)]
    layers[0].weights, layers[0].bias = W1, B1
    layers[1].weights, layers[1].bias = W2, B2
    return dp.Network(layers, loss=loss, dtype="float64")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def hand_sigmoid_mse(x_rows, y_rows, lr):
    """The seed's equations for a sigmoid 2-3-2 network and mean squared error.

    One sample at a time, as column vectors: z = W a + b, a = σ(z),
    δ^L = 2(a^L - y)/(N·n) ⊙ σ'(z^L), δ^l = (W^(l+1))^T δ^(l+1) ⊙ σ'(z^l),
    ∂L/∂W^l = Σ_samples δ^l (a^(l-1))^T, ∂L/∂b^l = Σ_samples δ^l.
    """
    params = [(W1, B1.reshape(-1, 1)), (W2, B2.reshape(-1, 1))]
    n_samples, n_out = y_rows.shape

    def forward(params, x):
        activations, zs = [x], []
        for W, b in params:
            zs.append(W @ activations[-1] + b)
            activations.append(sigmoid(zs[-1]))
        return zs, activations

    def loss(params):
        total = 0.0
        for x, y in zip(x_rows, y_rows):
            _, a = forward(params, x.reshape(-1, 1))
            total += float(np.sum((a[-1] - y.reshape(-1, 1)) ** 2))
        return total / (n_samples * n_out)

    samples = []
    grads = [[np.zeros_like(W), np.zeros_like(b)] for W, b in params]
    for x, y in zip(x_rows, y_rows):
        zs, a = forward(params, x.reshape(-1, 1))
        deltas = [None, None]
        deltas[1] = 2 * (a[2] - y.reshape(-1, 1)) / (n_samples * n_out) * a[2] * (1 - a[2])
        deltas[0] = (W2.T @ deltas[1]) * a[1] * (1 - a[1])
        for layer in range(2):
            grads[layer][0] += deltas[layer] @ a[layer].T
            grads[layer][1] += deltas[layer]
        samples.append({"z": zs, "a": a[1:], "delta": deltas})
    stepped = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]
    return samples, grads, loss(params), loss(stepped), stepped


@pytest.mark.parametrize("n_samples", [1, 3])
def test_numbers_match_the_seeds_equations_computed_by_hand(n_samples):
    rng = np.random.default_rng(7)
    x = rng.random((n_samples, 2))
    y = np.eye(2)[rng.integers(0, 2, size=n_samples)]
    samples, grads, loss, loss_after, stepped = hand_sigmoid_mse(x, y, lr=0.5)

    record = explain(network_232(), x, y, lr=0.5)

    assert record.loss == pytest.approx(loss, rel=1e-12)
    assert record.loss_after == pytest.approx(loss_after, rel=1e-12)
    for index, layer in enumerate(record.layers):
        for s, sample in enumerate(samples):
            np.testing.assert_allclose(layer.z[s], sample["z"][index][:, 0], rtol=1e-12)
            np.testing.assert_allclose(layer.a[s], sample["a"][index][:, 0], rtol=1e-12)
            np.testing.assert_allclose(layer.delta[s], sample["delta"][index][:, 0], rtol=1e-10)
        np.testing.assert_allclose(layer.grad_weights, grads[index][0], rtol=1e-10)
        np.testing.assert_allclose(layer.grad_bias, grads[index][1][:, 0], rtol=1e-10)
        np.testing.assert_allclose(layer.numeric_weights, grads[index][0], rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(layer.numeric_bias, grads[index][1][:, 0], rtol=1e-7)
        assert layer.weights_error < 1e-8 and layer.bias_error < 1e-8
        np.testing.assert_allclose(layer.new_weights, stepped[index][0], rtol=1e-12)
        np.testing.assert_allclose(layer.new_bias, stepped[index][1][:, 0], rtol=1e-12)
    assert record.loss_after < record.loss


def test_softmax_cross_entropy_delta_is_p_minus_y_over_n():
    x = np.array([[0.2, -0.4], [1.0, 0.5]])
    labels = np.array([1, 0])
    record = explain(network_232("tanh", "softmax", "cross_entropy"), x, labels, lr=0.1)

    # Column form, one sample at a time: a^1 = tanh(W1 x + b1), p = softmax(W2 a^1 + b2).
    for s, (xs, label) in enumerate(zip(x, labels)):
        a1 = np.tanh(W1 @ xs.reshape(-1, 1) + B1.reshape(-1, 1))
        z2 = W2 @ a1 + B2.reshape(-1, 1)
        p = np.exp(z2) / np.exp(z2).sum()
        delta2 = (p - np.eye(2)[:, [label]]) / len(x)
        delta1 = (W2.T @ delta2) * (1 - a1**2)
        np.testing.assert_allclose(record.layers[1].delta[s], delta2[:, 0], rtol=1e-10)
        np.testing.assert_allclose(record.layers[0].delta[s], delta1[:, 0], rtol=1e-10)
    assert record.max_error < 1e-8


def test_network_is_left_unchanged():
    network = network_232()
    before = [p.copy() for p in network.parameters()]
    explain(network, np.array([0.3, 0.9]), np.array([1.0, 0.0]), lr=1.0)
    for old, new in zip(before, network.parameters()):
        np.testing.assert_array_equal(old, new)


def test_one_sample_may_be_given_as_vectors():
    network = network_232()
    single = explain(network, np.array([0.3, 0.9]), np.array([1.0, 0.0]))
    batch = explain(network, np.array([[0.3, 0.9]]), np.array([[1.0, 0.0]]))
    np.testing.assert_array_equal(single.layers[0].delta, batch.layers[0].delta)
    assert single.n_samples == 1


def test_large_layers_are_estimated_on_a_sample_of_entries():
    network = dp.Network.from_sizes([30, 20, 4], seed=1)
    x = np.random.default_rng(0).random((2, 30))
    record = explain(network, x, [0, 3], max_checks=25)
    assert record.layers[0].checked_weights == 25
    assert record.layers[0].checked_bias == 20
    assert record.max_error < 1e-5  # float32 gradients against float64 differences
    assert "central difference on 25 of 600 entries" in format_text(record)


def test_bad_arguments_raise_one_line_errors():
    network = network_232()
    with pytest.raises(dp.ValidationError, match="lr must be"):
        explain(network, [[0.1, 0.2]], [[1.0, 0.0]], lr=0)
    with pytest.raises(dp.ValidationError, match="features per row"):
        explain(network, [[0.1, 0.2, 0.3]], [[1.0, 0.0]])


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    hidden=st.sampled_from(["sigmoid", "tanh", "softplus", "gelu"]),
    n_samples=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_gradients_are_the_networks_own(sizes, hidden, n_samples, seed):
    network = dp.Network.from_sizes(
        sizes, hidden=hidden, output="identity", loss="mse", dtype="float64", seed=seed
    )
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n_samples, sizes[0])), rng.normal(size=(n_samples, sizes[-1]))
    record = explain(network, x, y)
    loss, gradients = network.gradients(x, y)
    assert record.loss == loss
    for layer, (dW, db) in zip(record.layers, gradients):
        np.testing.assert_array_equal(layer.grad_weights, dW)
        np.testing.assert_array_equal(layer.grad_bias, db)
    assert record.max_error < 1e-7


def test_text_shows_the_seeds_equations_with_the_numbers():
    text = format_text(explain(network_232(), np.array([0.5, 1.0]), np.array([1.0, 0.0])))
    lines = text.splitlines()
    assert lines[0] == "network 2-3-2 (sigmoid → sigmoid), loss mse, float64, 1 sample"
    # z^1 = W^1 a^0 + b^1 = (0.05 - 0.2 + 0.01, 0.15 + 0.4 - 0.02, -0.25 + 0.6 + 0.03)
    assert "  z^1 = W^1 a^0 + b^1 = [-0.1400  0.5300  0.3800]ᵀ" in lines
    assert "  b^1 = [0.01000  -0.02000  0.03000]ᵀ" in lines
    assert any(line.startswith("  δ^1 = ((W^2)^T δ^2) ⊙ σ'(z^1) = [") for line in lines)
    assert any(line.startswith("  ∂L/∂W^2 = δ^2 (a^1)^T = [") for line in lines)
    assert any("central difference" in line and "relative error" in line for line in lines)
    assert any(line.startswith("one SGD step:  W^l ← W^l − η ∂L/∂W^l") for line in lines)
    assert any(line.startswith("  L before ") for line in lines)


def test_markdown_has_latex_equations_and_tables():
    markdown = format_markdown(explain(network_232(), [[0.5, 1.0]], [[1.0, 0.0]]))
    assert markdown.startswith("# Backpropagation, step by step")
    assert r"$$\delta^{1} = \left((W^{2})^{T} \delta^{2}\right) \odot \sigma'(z^{1})$$" in markdown
    assert r"$$z^{l} = W^{l} a^{l-1} + b^{l}" in markdown
    assert "| i=3 | -0.5000 | 0.6000 |" in markdown  # W^1's last row
    for heading in ("## Forward pass", "## Loss", "## Backward pass", "## One SGD step"):
        assert heading in markdown


def run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "deltaprop", "explain", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_cli_output_for_a_fixed_seed_is_stable(tmp_path):
    args = ["--layers", "2,3,2", "--activation", "sigmoid", "--loss", "mse", "--seed", "0"]
    first = run_cli(*args, "--markdown", str(tmp_path / "step.md"))
    second = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()
    assert lines[0] == "network 2-3-2 (sigmoid → sigmoid), loss mse, float64, 1 sample"
    assert "  a^0 = x = [0.6370  0.2698]ᵀ" in lines
    assert "  W^1 = [ 0.9704  -0.4024]" in lines
    assert "  L = 0.344702" in lines
    assert "  L before 0.344702 → after 0.336774 (change -0.00793)" in lines
    assert (tmp_path / "step.md").read_text().startswith("# Backpropagation")


def test_cli_refuses_bad_layers_and_mixed_options(tmp_path):
    bad = run_cli("--layers", "2,x")
    assert bad.returncode == 2
    assert "--layers must list at least two positive sizes" in bad.stderr
    network = dp.Network.from_sizes([2, 3, 2], seed=0)
    network.save(tmp_path / "net.safetensors")
    mixed = run_cli(str(tmp_path / "net.safetensors"), "--layers", "2,3,2")
    assert mixed.returncode == 2
    assert "describe a new network" in mixed.stderr
    loaded = run_cli(str(tmp_path / "net.safetensors"), "--batch", "2")
    assert loaded.returncode == 0, loaded.stderr
    assert "network 2-3-2 (relu → softmax), loss cross_entropy, float32, 2 samples" in loaded.stdout


def test_cli_explains_a_model_on_samples_of_a_data_set(tmp_path):
    from deltaprop.datasets import load_digits

    _, (_, y_test) = load_digits()
    dp.Network.from_sizes([64, 12, 10], seed=3).save(tmp_path / "digits.safetensors")
    model = str(tmp_path / "digits.safetensors")
    result = run_cli(model, "--data", "digits", "--sample", "3", "--batch", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "network 64-12-10 (relu → softmax), loss cross_entropy, float32, 2 samples"
    assert f"  y = class {y_test[3]}, {y_test[4]}" in lines
    assert "  a^0 = x = (64×2) ‖·‖" in result.stdout
    past = run_cli(model, "--data", "digits", "--sample", "359", "--batch", "2")
    assert past.returncode == 2
    assert "choose --sample from 0 to 358" in past.stderr
