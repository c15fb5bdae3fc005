"""Loss values by hand, gradients against finite differences, and the fused output deltas."""

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import Identity, Sigmoid, Softmax

REGRESSION = ["mse", "mae", "huber"]


def test_values_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 5.0]])
    y = np.array([[1.0, 0.0], [0.5, 5.0]])
    # differences 0, 2, 2.5, 0 over 4 elements
    assert dp.get_loss("mse").value(a, a, y) == pytest.approx((4 + 6.25) / 4)
    assert dp.get_loss("mae").value(a, a, y) == pytest.approx(4.5 / 4)
    # huber(δ=1): ½·0², 1·(2-½), 1·(2.5-½), 0
    assert dp.get_loss("huber").value(a, a, y) == pytest.approx((1.5 + 2.0) / 4)


def test_cross_entropy_by_hand_with_labels_and_one_hot():
    z = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    p = Softmax().forward(z)
    expected = -(np.log(p[0, 0]) + np.log(p[1, 2])) / 2
    loss = dp.get_loss("cross_entropy")
    assert loss.value(z, p, np.array([0, 2])) == pytest.approx(expected)
    assert loss.value(z, p, np.eye(3)[[0, 2]]) == pytest.approx(expected)


def test_binary_cross_entropy_from_logits_is_stable():
    z = np.array([[-800.0], [800.0]])
    p = Sigmoid().forward(z)
    loss = dp.get_loss("binary_cross_entropy").value(z, p, np.array([[1.0], [1.0]]))
    assert loss == pytest.approx(400.0)  # -log σ(-800) ≈ 800, averaged with ≈0


@pytest.mark.parametrize("name", REGRESSION)
def test_gradient_matches_central_difference(name):
    loss = dp.get_loss(name)
    rng = np.random.default_rng(0)
    a, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    eps = 1e-6
    numeric = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        step = np.zeros_like(a)
        step[index] = eps
        numeric[index] = (loss.value(a + step, a + step, y) - loss.value(a - step, a - step, y)) / (
            2 * eps
        )
    np.testing.assert_allclose(loss.gradient(a, y), numeric, atol=1e-8)


@pytest.mark.parametrize(
    ("name", "activation", "targets"),
    [
        ("cross_entropy", Softmax(), np.array([1, 0, 2])),
        ("binary_cross_entropy", Sigmoid(), np.array([[1.0, 0.0, 1.0]] * 3)),
    ],
)
def test_fused_delta_is_p_minus_y_over_size(name, activation, targets):
    z = np.random.default_rng(1).normal(size=(3, 3))
    a = activation.forward(z)
    delta = dp.get_loss(name).output_delta(z, a, targets, activation)
    y = np.eye(3)[targets] if targets.ndim == 1 else targets
    size = len(z) if name == "cross_entropy" else z.size
    np.testing.assert_allclose(delta, (a - y) / size)


def test_incompatible_pairs_are_refused():
    with pytest.raises(dp.ValidationError, match="cross_entropy' needs a softmax output"):
        dp.get_loss("cross_entropy").check_activation(Sigmoid())
    with pytest.raises(dp.ValidationError, match="needs a sigmoid output"):
        dp.get_loss("binary_cross_entropy").check_activation(Identity())
    dp.get_loss("mse").check_activation(Softmax())  # allowed: full Jacobian


def test_names_and_errors():
    assert dp.get_loss("BCE").name == "binary_cross_entropy"
    assert dp.get_loss("huber", delta=2.0).delta == 2.0
    with pytest.raises(dp.ValidationError, match="did you mean 'mse'"):
        dp.get_loss("mse2")
    with pytest.raises(dp.ValidationError, match="huber delta must be > 0"):
        dp.get_loss("huber", delta=0)


def test_huber_with_another_delta_by_hand():
    huber = dp.get_loss("huber", delta=2.0)
    a, y = np.array([[0.5, 3.0]]), np.zeros((1, 2))
    # |d| = 0.5 <= δ: ½·0.25; |d| = 3 > δ: 2·(3 - 1) = 4; mean over 2 elements
    assert huber.value(a, a, y) == pytest.approx((0.125 + 4.0) / 2)
    np.testing.assert_allclose(huber.gradient(a, y), [[0.25, 1.0]])  # clip(d, ±2)/2
    assert huber.config() == {"delta": 2.0} and repr(huber) == "Huber(delta=2.0)"


def test_binary_cross_entropy_by_hand_with_soft_targets():
    z = np.array([[0.5, -1.0], [2.0, 0.0]])
    y = np.array([[1.0, 0.25], [0.0, 0.5]])
    p = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert dp.get_loss("bce").value(z, p, y) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_with_target_rows_by_hand():
    # L_n = Σ_k y_k (log Σ_j e^(z_j) - z_k) = -Σ_k y_k log p_k, also for rows not summing to 1
    z = np.array([[2.0, 1.0, 0.1], [0.5, -1.0, 3.0]])
    y = np.array([[0.25, 0.75, 0.0], [0.0, 1.5, 0.5]])
    p = Softmax().forward(z)
    expected = -np.sum(y * np.log(p)) / 2
    assert dp.get_loss("cross_entropy").value(z, p, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "activation", "targets"),
    [
        ("cross_entropy", Softmax(), np.array([1, 0, 2])),
        ("cross_entropy", Softmax(), np.eye(3)[[2, 2, 0]]),
        ("binary_cross_entropy", Sigmoid(), np.array([[1.0, 0.0, 1.0]] * 3)),
    ],
)
def test_fused_delta_written_into_out(name, activation, targets):
    z = np.random.default_rng(2).normal(size=(3, 3))
    a = activation.forward(z)
    out = np.full_like(z, np.nan)
    delta = dp.get_loss(name).output_delta(z, a, targets, activation, out=out)
    assert delta is out
    np.testing.assert_allclose(out, dp.get_loss(name).output_delta(z, a, targets, activation))


def test_every_alias_names_its_loss():
    assert dp.get_loss("categorical-cross-entropy").name == "cross_entropy"
    assert dp.get_loss("Binary-Cross-Entropy").name == "binary_cross_entropy"
    mse = dp.get_loss("mse")
    assert dp.get_loss(mse) is mse
    with pytest.raises(dp.DeltapropTypeError, match="loss must be a name"):
        dp.get_loss(3)


def test_a_loss_that_is_neither_a_name_nor_a_loss_is_refused_with_an_example():
    with pytest.raises(
        dp.DeltapropTypeError, match=r"^loss must be a name such as 'mse' or a Loss, got "
    ):
        dp.get_loss(3)
