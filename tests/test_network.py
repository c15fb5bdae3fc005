"""The seed's forward pass and delta recursion, checked by hand and by finite differences."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaprop as dp

CLASSIFICATION = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
REGRESSION = ["mse", "mae", "huber"]
ALLOWED_PAIRS = [(name, loss) for loss in REGRESSION for name in dp.ACTIVATIONS] + [
    (output, loss) for loss, output in CLASSIFICATION.items()
]


KINK_AT_ZERO = {"relu", "leaky_relu", "elu"}


def distance_to_kinks(net, X, targets):
    """Smallest distance of any z (ReLU family) or a - y (mae, huber) from a kink."""
    cache = net._forward(X)
    distances = [np.inf]
    for layer, z in zip(net.layers, cache.zs):
        if layer.activation.name in KINK_AT_ZERO:
            distances.append(np.abs(z).min())
    residual = np.abs(cache.output - targets)
    if net.loss.name == "mae":
        distances.append(residual.min())
    if net.loss.name == "huber":
        distances.append(np.abs(residual - net.loss.delta).min())
    return min(distances)


def random_problem(sizes, hidden, output, loss, seed):
    """A float64 network with random non-zero biases, inputs and targets, drawn so that no
    sample sits within 1e-3 of a kink, where the derivative is undefined."""
    rng = np.random.default_rng(seed)
    net = dp.Network.from_sizes(
        sizes, hidden=hidden, output=output, loss=loss, dtype="float64", seed=seed
    )
    while True:
        for layer in net.layers:
            layer.bias = rng.normal(size=layer.n_out)
        X = rng.normal(size=(5, sizes[0]))
        if loss == "cross_entropy":
            y = rng.integers(0, sizes[-1], size=5)
        elif loss == "binary_cross_entropy":
            y = rng.integers(0, 2, size=(5, sizes[-1]))
        else:
            y = rng.normal(size=(5, sizes[-1]))
        targets = np.eye(sizes[-1])[y] if y.ndim == 1 else y
        if loss == "cross_entropy" or distance_to_kinks(net, X, targets) > 1e-3:
            return net, X, y


def test_hand_worked_2_2_1_network():
    # One sample x = (1, 2); W1 = [[0.1, 0.2], [0.3, 0.4]], b1 = (0, 0), identity hidden layer;
    # W2 = [[1, -1]], b2 = 0.5, identity output, mse against y = 1.
    layers = [dp.Dense(2, 2, activation="identity"), dp.Dense(2, 1, activation="identity")]
    net = dp.Network(layers, loss="mse", dtype="float64")
    layers[0].weights, layers[0].bias = [[0.1, 0.2], [0.3, 0.4]], [0.0, 0.0]
    layers[1].weights, layers[1].bias = [[1.0, -1.0]], [0.5]
    # z1 = W1 x = (0.1 + 0.4, 0.3 + 0.8) = (0.5, 1.1); a2 = 0.5 - 1.1 + 0.5 = -0.1
    np.testing.assert_allclose(net.forward([[1.0, 2.0]]), [[-0.1]])
    loss, grads = net.gradients([[1.0, 2.0]], [1.0])
    # L = (-0.1 - 1)² = 1.21; δ2 = 2(a - y) = -2.2
    assert loss == pytest.approx(1.21)
    # ∂L/∂W2 = δ2 a1ᵀ = -2.2 (0.5, 1.1); ∂L/∂b2 = δ2
    np.testing.assert_allclose(grads[1][0], [[-1.1, -2.42]])
    np.testing.assert_allclose(grads[1][1], [-2.2])
    # δ1 = W2ᵀ δ2 ⊙ 1 = (-2.2, 2.2); ∂L/∂W1 = δ1 xᵀ
    np.testing.assert_allclose(grads[0][0], [[-2.2, -4.4], [2.2, 4.4]])
    np.testing.assert_allclose(grads[0][1], [-2.2, 2.2])


@pytest.mark.parametrize(("output", "loss"), ALLOWED_PAIRS)
@pytest.mark.parametrize("hidden", list(dp.ACTIVATIONS))
def test_gradients_match_finite_differences_for_every_pair(hidden, output, loss):
    net, X, y = random_problem([4, 5, 3], hidden, output, loss, seed=3)
    report = dp.gradcheck(net, X, y)
    assert report.max_error < 1e-6, str(report)


@given(
    depth=st.integers(1, 4),
    widths=st.lists(st.integers(1, 6), min_size=5, max_size=5),
    pair=st.sampled_from(ALLOWED_PAIRS),
    hidden=st.sampled_from(list(dp.ACTIVATIONS)),
    seed=st.integers(0, 10**6),
)
@settings(max_examples=int(os.environ.get("DELTAPROP_GRADCHECK_EXAMPLES", "100")))
def test_gradients_match_for_random_depths_and_widths(depth, widths, pair, hidden, seed):
    output, loss = pair
    sizes = widths[: depth + 1]
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    net, X, y = random_problem(sizes, hidden, output, loss, seed)
    report = dp.gradcheck(net, X, y)
    assert report.max_error < 1e-6, str(report)


def test_gradients_change_nothing_and_have_parameter_shapes():
    net, X, y = random_problem([3, 4, 2], "tanh", "softmax", "cross_entropy", seed=0)
    before = [p.copy() for p in net.parameters()]
    loss, grads = net.gradients(X, y)
    assert isinstance(loss, float)
    for layer, (dW, db) in zip(net.layers, grads):
        assert dW.shape == layer.weights.shape and db.shape == layer.bias.shape
    for old, new in zip(before, net.parameters()):
        np.testing.assert_array_equal(old, new)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=2, max_size=4),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_one_sample_gradient_is_the_blas_product_to_the_bit(engine, sizes, dtype, seed):
    """∂L/∂W^l = δ^l (a^(l-1))^T of one sample, an outer product that skips BLAS, has the
    bits of BLAS's matrix product, signed zeros included."""
    net = dp.Network.from_sizes(sizes, hidden="relu", dtype=dtype, seed=seed, engine=engine)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, sizes[0])).astype(dtype)
    x[0, rng.integers(0, sizes[0])] = -0.0  # δ·(-0) is -0; BLAS's sum, 0 + δ·(-0), is +0
    explanation = dp.explain(net, x, rng.integers(0, sizes[-1], size=1), max_checks=1)
    inputs = [x] + [layer.a for layer in explanation.layers[:-1]]
    for layer, a_prev in zip(explanation.layers, inputs):
        product = np.matmul(layer.delta.T, a_prev)
        assert layer.grad_weights.tobytes() == product.tobytes()


def test_weights_follow_the_seed_convention():
    # W^l has shape (n_out, n_in), z = W a + b: a batch of rows computes X @ W.T + b.
    layer, output = dp.Dense(3, 2), dp.Dense(2, 4, activation="softmax")
    net = dp.Network([layer, output])
    assert layer.weights.shape == (2, 3) and layer.bias.shape == (2,)
    assert net.layers[0] is layer
    X = np.arange(6.0).reshape(2, 3)

    def by_hand():
        hidden = np.maximum(X @ layer.weights.T + layer.bias, 0)
        z = hidden @ output.weights.T + output.bias
        return np.exp(z) / np.exp(z).sum(1, keepdims=True)

    np.testing.assert_allclose(net.forward(X), by_hand(), rtol=1e-6)
    # Parameters set on a layer are used at once; this bias turns the second ReLU unit off.
    layer.weights, layer.bias = np.ones((2, 3)), [0.5, -20.0]
    output.bias = [0.1, -0.2, 0.3, 0.0]
    np.testing.assert_allclose(net.forward(X), by_hand(), rtol=1e-6)
    assert layer.weights.dtype == np.float32


def test_float32_stays_float32_and_float64_on_request():
    for dtype in ("float32", "float64"):
        net = dp.Network.from_sizes([3, 4, 2], dtype=dtype)
        X = np.random.default_rng(0).normal(size=(5, 3))  # float64 input
        _, grads = net.gradients(X, [0, 1, 0, 1, 1])
        assert all(p.dtype == dtype for p in net.parameters())
        assert all(g.dtype == dtype for pair in grads for g in pair)
        assert net.forward(X).dtype == dtype


def test_same_seed_same_weights_other_seed_other_weights():
    a = dp.Network.from_sizes([5, 4, 3], seed=7)
    b = dp.Network.from_sizes([5, 4, 3], seed=7)
    c = dp.Network.from_sizes([5, 4, 3], seed=8)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert pa.tobytes() == pb.tobytes()
    assert a.layers[0].weights.tobytes() != c.layers[0].weights.tobytes()


def test_default_initialisers_by_activation():
    relu = dp.Dense(400, 300, activation="relu")
    tanh = dp.Dense(400, 300, activation="tanh")
    dp.Network([relu, dp.Dense(300, 2, activation="softmax")], seed=0)
    dp.Network([tanh, dp.Dense(300, 2, activation="softmax")], seed=0)
    assert relu.init == "he_normal" and tanh.init == "glorot_uniform"
    assert np.std(relu.weights) == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert np.abs(tanh.weights).max() <= np.sqrt(6 / 700)


def test_predict_for_classifiers_and_regressors():
    X = np.array([[1.0, -0.5], [0.5, 2.0], [-3.0, 0.25]])

    def network(n_out, output, loss, weights):
        net = dp.Network.from_sizes([2, n_out], output=output, loss=loss, dtype="float64")
        net.layers[0].weights, net.layers[0].bias = weights, np.zeros(n_out)
        return net

    # z = X Wᵀ = [[0.5, 1, -0.5], [2.5, 0.5, 2], [-2.75, -3, 0.25]]: the largest z wins.
    clf = network(3, "softmax", "cross_entropy", [[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(clf.predict(X), [1, 0, 2])
    # One sigmoid output, z = x1 + x2 = [0.5, 2.5, -2.75]: 1 where σ(z) >= 0.5, i.e. z >= 0.
    binary = network(1, "sigmoid", "binary_cross_entropy", [[1.0, 1.0]])
    np.testing.assert_array_equal(binary.predict(X), [1, 1, 0])
    # Several sigmoid outputs: one 0/1 column each (multi-label), z = [x1 + x2, -x1].
    labels = network(2, "sigmoid", "binary_cross_entropy", [[1.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(labels.predict(X), [[1, 0], [1, 0], [0, 1]])
    # A regressor predicts its outputs: here z itself.
    reg = network(2, "identity", "mse", [[1.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(reg.predict(X), [[0.5, -1.0], [2.5, -0.5], [-2.75, 3.0]])
    with pytest.raises(dp.ValidationError, match="predict_proba needs a classifier"):
        reg.predict_proba(X)


def test_repr_shows_the_architecture():
    text = repr(dp.Network.from_sizes([784, 256, 10]))
    assert "Dense(784, 256, activation='relu')" in text
    assert "Dense(256, 10, activation='softmax')" in text
    assert "parameters=203,530" in text


def test_copy_is_independent_and_can_change_dtype():
    net = dp.Network.from_sizes([3, 2])
    clone = net.copy(dtype="float64")
    assert clone.layers[0].weights.dtype == np.float64
    clone.layers[0].weights[...] = 0
    assert net.layers[0].weights.any()
