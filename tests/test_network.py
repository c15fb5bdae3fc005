"""The seed's forward pass and delta recursion, checked by hand and by finite differences."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop.training import evaluate
from deltaprop.workspace import Workspace

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


def random_problem(sizes, hidden, output, loss, seed, engine="auto"):
    """A float64 network with random non-zero biases, inputs and targets, drawn so that no
    sample sits within 1e-3 of a kink, where the derivative is undefined."""
    rng = np.random.default_rng(seed)
    net = dp.Network.from_sizes(
        sizes, hidden=hidden, output=output, loss=loss, dtype="float64", seed=seed, engine=engine
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
def test_one_sample_gradient_is_the_matrix_product_to_the_bit(engine, sizes, dtype, seed):
    """∂L/∂W^l = δ^l (a^(l-1))^T of one sample, computed as an outer product, has the bits of
    np.matmul's product, signed zeros included."""
    net = dp.Network.from_sizes(sizes, hidden="relu", dtype=dtype, seed=seed, engine=engine)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, sizes[0])).astype(dtype)
    x[0, rng.integers(0, sizes[0])] = -0.0  # δ·(-0) is -0; matmul's sum, 0 + δ·(-0), is +0
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


def test_float32_stays_float32_and_float64_on_request(engine):
    for dtype in ("float32", "float64"):
        net = dp.Network.from_sizes([3, 4, 2], dtype=dtype, engine=engine)
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
    z = X @ np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]).T
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X), softmax, rtol=1e-12)
    # One sigmoid output, z = x1 + x2 = [0.5, 2.5, -2.75]: 1 where σ(z) >= 0.5, i.e. z >= 0,
    # the sample with z = 0 (σ(0) = 0.5 exactly) included.
    binary = network(1, "sigmoid", "binary_cross_entropy", [[1.0, 1.0]])
    np.testing.assert_array_equal(binary.predict(X), [1, 1, 0])
    assert binary.predict([[1.5, -1.5]]).tolist() == [1]
    # Several sigmoid outputs: one 0/1 column each (multi-label), z = [x1 + x2, -x1].
    labels = network(2, "sigmoid", "binary_cross_entropy", [[1.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_array_equal(labels.predict(X), [[1, 0], [1, 0], [0, 1]])
    assert labels.predict(X).dtype == np.int64 and binary.predict(X).dtype == np.int64
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
    net = dp.Network.from_sizes([4, 3, 2], hidden="tanh", dropout=0.5, engine="numpy")
    assert repr(net) == (
        "Network(\n"
        "  (0): Dense(4, 3, activation='tanh', dropout=0.5)\n"
        "  (1): Dense(3, 2, activation='softmax')\n"
        "  loss='cross_entropy', dtype='float32', parameters=23, engine='numpy'\n"
        ")"
    )


def test_copy_is_independent_and_can_change_dtype():
    net = dp.Network.from_sizes([3, 2])
    clone = net.copy(dtype="float64")
    assert clone.layers[0].weights.dtype == np.float64
    clone.layers[0].weights[...] = 0
    assert net.layers[0].weights.any()


@pytest.mark.parametrize(("output", "loss"), ALLOWED_PAIRS)
def test_the_numpy_engine_matches_finite_differences_for_every_output(output, loss):
    # The reference engine's own δ^L: gradcheck's float64 copy keeps the network's engine.
    net, X, y = random_problem([3, 4, 2], "gelu", output, loss, seed=5, engine="numpy")
    report = dp.gradcheck(net, X, y)
    assert report.max_error < 1e-6, str(report)


def test_the_deltas_of_the_hand_worked_network_on_every_engine(engine):
    # The network of test_hand_worked_2_2_1_network: δ2 = -2.2, δ1 = W2ᵀ δ2 = (-2.2, 2.2).
    for dtype in ("float64", "float32"):
        layers = [dp.Dense(2, 2, activation="identity"), dp.Dense(2, 1, activation="identity")]
        net = dp.Network(layers, loss="mse", dtype=dtype, engine=engine)
        layers[0].weights, layers[0].bias = [[0.1, 0.2], [0.3, 0.4]], [0.0, 0.0]
        layers[1].weights, layers[1].bias = [[1.0, -1.0]], [0.5]
        X, targets = np.array([[1.0, 2.0]], dtype), np.array([[1.0]], dtype)
        deltas = []
        gradients = net.passes.backward(net.passes.forward(X), targets, deltas=deltas)
        assert [delta.shape for delta in deltas] == [(1, 2), (1, 1)]  # l = 1..L
        np.testing.assert_allclose(deltas[0], [[-2.2, 2.2]], rtol=1e-6)
        np.testing.assert_allclose(deltas[1], [[-2.2]], rtol=1e-6)
        np.testing.assert_allclose(gradients[0][0], [[-2.2, -4.4], [2.2, 4.4]], rtol=1e-6)
        assert all(array.dtype == dtype for pair in gradients for array in pair)
        assert all(delta.dtype == dtype for delta in deltas)


def test_the_passes_write_every_array_into_the_workspace_they_are_given(engine):
    # fit hands one Workspace to every step and reads the gradient from its vector; MPI and
    # explain read the cache, whose arrays belong to that workspace.
    net = dp.Network.from_sizes(
        [3, 5, 2], output="identity", loss="mse", dropout=0.5, seed=1, engine=engine
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3)).astype(np.float32)
    targets = rng.normal(size=(6, 2)).astype(np.float32)

    def poisoned_workspace():
        work = Workspace.for_targets(net.layers, net.dtype, targets)
        for array in [*work.zs, *work.activations, work.dropped[0], work.masks[0]]:
            array[...] = np.nan
        work.gradient_vector[...] = np.nan
        return work

    work = poisoned_workspace()
    cache = net.passes.forward(X, np.random.default_rng(2), work)
    # Dropout ran: the mask is 0 or 1/(1 - p) = 2, and the hidden output was scaled by it.
    assert set(np.unique(work.masks[0])) == {0.0, 2.0}
    np.testing.assert_array_equal(cache.masks[0], work.masks[0])
    np.testing.assert_array_equal(work.dropped[0], work.activations[0] * work.masks[0])
    np.testing.assert_array_equal(cache.inputs[1], work.dropped[0])
    np.testing.assert_array_equal(cache.output, work.activations[-1])
    gradients = net.passes.backward(cache, targets, work)
    flat = np.concatenate([array.ravel() for pair in gradients for array in pair])
    np.testing.assert_array_equal(work.gradient_vector, flat)
    # backprop is forward + backward into the same workspace, with the same mask.
    again = poisoned_workspace()
    loss, _, output = net.passes.backprop(X, targets, np.random.default_rng(2), again)
    np.testing.assert_array_equal(output, cache.output)
    np.testing.assert_array_equal(again.activations[-1], cache.output)
    np.testing.assert_array_equal(again.gradient_vector, flat)
    assert loss == pytest.approx(float(np.mean((cache.output - targets) ** 2)), rel=1e-6)


def test_dropout_runs_only_in_training(engine):
    def network(dropout):
        return dp.Network.from_sizes(
            [4, 6, 5, 3], hidden="tanh", dropout=dropout, seed=3, engine=engine
        )

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    with_dropout, plain = network(0.5), network(0.0)
    assert [layer.dropout for layer in with_dropout.layers] == [0.5, 0.5, 0.0]
    # Same seed, same weights; prediction and gradients() never drop a unit.
    assert with_dropout.parameter_vector.tobytes() == plain.parameter_vector.tobytes()
    assert with_dropout.forward(X).tobytes() == plain.forward(X).tobytes()
    loss, gradients = with_dropout.gradients(X, y)
    expected_loss, expected = plain.gradients(X, y)
    assert loss == expected_loss
    for pair, expected_pair in zip(gradients, expected):
        for array, expected_array in zip(pair, expected_pair):
            assert array.tobytes() == expected_array.tobytes()
    # Training does drop units: one epoch ends elsewhere.
    with_dropout.fit(X, y, epochs=1, batch_size=4)
    plain.fit(X, y, epochs=1, batch_size=4)
    assert not np.array_equal(with_dropout.parameter_vector, plain.parameter_vector)


@pytest.mark.parametrize("rows", [1, 3, 64])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inference_computes_the_rows_equations_to_the_bit(engine, dtype, rows):
    # forward evaluates z^l = W^l a^(l-1) + b^l as NumPy does for a batch of rows, A @ W.T + b,
    # to the last bit: its hidden layers are row-major (a training step's, one column per
    # sample, round otherwise for some shapes). One output unit: a column is also a row.
    net = dp.Network.from_sizes(
        [37, 29, 41, 1], output="identity", loss="mse", dtype=dtype, seed=2, engine=engine
    )
    rng = np.random.default_rng(rows)
    for layer in net.layers:
        layer.bias = rng.normal(size=layer.n_out)
    X = rng.normal(size=(rows, 37)).astype(dtype)
    a = X
    for index, layer in enumerate(net.layers):
        a = a @ layer.weights.T + layer.bias
        a = np.maximum(a, 0) if index < 2 else a
    output = net.forward(X)
    assert output.dtype == dtype and output.flags.c_contiguous
    assert output.tobytes() == a.tobytes()


def test_defaults_and_from_sizes_build_the_network_spelled_out():
    arguments = {"loss": "mse", "dtype": "float64", "seed": 4, "engine": "numpy"}

    def layers(init, dropout):
        return [
            dp.Dense(3, 5, activation="elu", init=init, dropout=dropout),
            dp.Dense(5, 4, activation="elu", init=init, dropout=dropout),
            dp.Dense(4, 2, activation="sigmoid", init=init),
        ]

    built = dp.Network.from_sizes(
        [3, 5, 4, 2], hidden="elu", output="sigmoid", init="he_uniform", dropout=0.25, **arguments
    )
    spelled_out = dp.Network(layers("he_uniform", 0.25), **arguments)
    assert repr(built) == repr(spelled_out)
    assert [layer.init for layer in built.layers] == ["he_uniform"] * 3
    assert built.parameter_vector.tobytes() == spelled_out.parameter_vector.tobytes()
    # The defaults: relu hidden layers, softmax output, cross-entropy, float32, seed 0.
    default = dp.Network.from_sizes([3, 5, 2])
    explicit = dp.Network(
        [dp.Dense(3, 5, activation="relu"), dp.Dense(5, 2, activation="softmax")],
        loss="cross_entropy", dtype="float32", seed=0,
    )  # fmt: skip
    assert repr(default) == repr(explicit)
    assert default.parameter_vector.tobytes() == explicit.parameter_vector.tobytes()
    unseeded = dp.Network([dp.Dense(3, 5), dp.Dense(5, 2, activation="softmax")])
    assert unseeded.parameter_vector.tobytes() == explicit.parameter_vector.tobytes()


def test_mismatched_layers_are_named_by_their_index():
    layers = [dp.Dense(3, 4), dp.Dense(4, 5), dp.Dense(6, 2, activation="softmax")]
    with pytest.raises(dp.ValidationError, match=r"layers\[2\] has n_in=6 but layers\[1\] has"):
        dp.Network(layers)


def test_gradients_cast_inputs_and_targets_and_check_them_like_fit():
    net = dp.Network.from_sizes([5, 8, 3], output="identity", loss="mse", seed=1)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))  # float64, the network float32
    loss, gradients = net.gradients(X, Y)
    expected_loss, expected = net.gradients(X.astype(np.float32), Y.astype(np.float32))
    assert loss == expected_loss
    for pair, expected_pair in zip(gradients, expected):
        for array, expected_array in zip(pair, expected_pair):
            assert array.dtype == np.float32
            assert array.tobytes() == expected_array.tobytes()
    binary = dp.Network.from_sizes([5, 1], output="sigmoid", loss="binary_cross_entropy")
    with pytest.raises(dp.ValidationError):
        binary.gradients(X[:2], [0, 2])
    classifier = dp.Network.from_sizes([5, 3])
    with pytest.raises(dp.ValidationError, match="summing to 1"):
        classifier.gradients(X[:1], [[0.5, 0.6, 0.0]])


def test_evaluate_goes_through_in_batches_of_1024_by_default():
    net = dp.Network.from_sizes([2, 3], seed=1)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1500, 2)), rng.integers(0, 3, size=1500)
    assert net.evaluate(X, y) == evaluate(net, X, y, batch_size=1024)
    assert net.evaluate(X, y, batch_size=100) == evaluate(net, X, y, batch_size=100)


def test_fit_defaults_are_ten_quiet_shuffled_epochs_of_32(capsys):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    by_default, spelled_out = dp.Network.from_sizes([3, 2]), dp.Network.from_sizes([3, 2])
    history = by_default.fit(X, y)
    assert capsys.readouterr() == ("", "")
    expected = dp.training.fit(spelled_out, X, y, epochs=10, batch_size=32, shuffle=True, verbose=0)
    assert history.loss == expected.loss and len(history.loss) == 10
    assert by_default.parameter_vector.tobytes() == spelled_out.parameter_vector.tobytes()


class Owner:
    """A user's object that refers back to the network it belongs to."""

    def __init__(self, network):
        self.network = network


def test_a_copy_keeps_its_views_and_references_to_itself():
    net = dp.Network.from_sizes([3, 4, 2], seed=1)
    net.owner = Owner(net)
    clone = net.copy()
    assert clone.owner.network is clone and net.owner.network is net
    # The clone's layers view its own vector, so an update reaches arrays taken beforehand.
    weights = clone.layers[0].weights
    dp.SGD(lr=1.0).step(clone.parameters(), [np.ones_like(p) for p in clone.parameters()])
    np.testing.assert_array_equal(weights, net.layers[0].weights - 1)
    assert clone.layers[0].weights is weights
    np.testing.assert_array_equal(clone.parameter_vector, net.parameter_vector - 1)


def test_a_float64_network_copied_to_float32_is_float32_throughout():
    net = dp.Network.from_sizes([3, 4, 2], dtype="float64", seed=1)
    clone = net.copy(dtype="float32")
    assert clone.parameter_vector.dtype == np.float32
    assert all(p.dtype == np.float32 for p in clone.parameters())
    np.testing.assert_array_equal(clone.parameter_vector, net.parameter_vector.astype(np.float32))


def test_the_notebook_view_describes_the_network():
    html = dp.Network.from_sizes([3, 2])._repr_html_()
    assert "Network 3-2: loss cross_entropy, float32, 8 parameters" in html
