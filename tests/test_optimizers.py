"""Each optimizer's first steps against updates computed by hand."""

import math
import pickle

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.optimizers import clip_by_global_norm


def run(optimizer, grads_per_step, start=1.0):
    """Apply the optimizer to one parameter [start] and return its value after each step."""
    param = np.array([start])
    values = []
    for grad in grads_per_step:
        optimizer.step([param], [np.array([grad])])
        values.append(float(param[0]))
    return values


def test_sgd_is_the_seeds_rule():
    # W ← W - η g: 1 - 0.1·2 = 0.8, then 0.8 - 0.1·(-1) = 0.9
    assert run(dp.SGD(lr=0.1), [2.0, -1.0]) == pytest.approx([0.8, 0.9])


def test_momentum():
    # v1 = g1 = 2, W = 1 - 0.2 = 0.8; v2 = 0.9·2 + 1 = 2.8, W = 0.8 - 0.28 = 0.52
    assert run(dp.SGD(lr=0.1, momentum=0.9), [2.0, 1.0]) == pytest.approx([0.8, 0.52])


def test_nesterov():
    # v1 = 2, step g + μv = 2 + 1.8 = 3.8 → 0.62; v2 = 1.8 + 1 = 2.8, step 1 + 2.52 → 0.268
    assert run(dp.SGD(lr=0.1, momentum=0.9, nesterov=True), [2.0, 1.0]) == pytest.approx(
        [0.62, 0.268]
    )


def test_adam_first_step_moves_by_lr():
    # m̂1 = g, v̂1 = g², so the first step is η·g/(|g| + ε) ≈ η·sign(g)
    assert run(dp.Adam(lr=0.01), [5.0]) == pytest.approx([0.99], abs=1e-8)


def test_adam_second_step_by_hand():
    b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-8
    m = v = 0.0
    param, expected = 1.0, []
    for t, g in enumerate([2.0, -1.0], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        param -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        expected.append(param)
    assert run(dp.Adam(lr=lr), [2.0, -1.0]) == pytest.approx(expected, rel=1e-12)


def test_adamw_decays_weights_not_biases():
    optimizer = dp.AdamW(lr=0.1, weight_decay=0.5)
    weights, bias = np.array([[2.0]]), np.array([2.0])
    optimizer.step([weights, bias], [np.zeros((1, 1)), np.zeros(1)])
    # zero gradient: Adam moves nothing; decay shrinks W by (1 - ηλ) = 0.95
    assert weights[0, 0] == pytest.approx(1.9)
    assert bias[0] == 2.0


def test_l2_weight_decay_adds_lambda_w_to_the_gradient():
    weights = np.array([[1.0]])
    dp.SGD(lr=0.1, weight_decay=0.5).step([weights], [np.array([[0.0]])])
    assert weights[0, 0] == pytest.approx(1 - 0.1 * 0.5)


def test_rmsprop_and_adagrad_by_hand():
    # RMSprop: v = 0.1·4 = 0.4; W = 1 - 0.01·2/(√0.4 + 1e-8)
    assert run(dp.RMSprop(lr=0.01), [2.0]) == pytest.approx([1 - 0.02 / math.sqrt(0.4)])
    # Adagrad: G = 4, then 5; W = 1 - 0.1·2/2 = 0.9, then 0.9 - 0.1·1/√5
    assert run(dp.Adagrad(lr=0.1), [2.0, 1.0]) == pytest.approx([0.9, 0.9 - 0.1 / math.sqrt(5)])


# Gradient-norm clipping follows PyTorch's clip_grad_norm_ (test_torch.py compares the two).


def test_clip_factor_is_max_norm_over_norm_plus_1e_6():
    # grads (3, 4) and (0,): joint norm √(9 + 16) = 5; factor 1 / (5 + 1e-6).
    grads = [np.array([3.0, 4.0]), np.array([0.0])]
    assert clip_by_global_norm(grads, max_norm=1.0) == 5.0
    np.testing.assert_allclose(grads[0], [3 / (5 + 1e-6), 4 / (5 + 1e-6)], rtol=1e-15)


def test_gradients_within_the_norm_are_left_alone():
    grads = [np.array([0.6, 0.8])]  # norm 1, factor 2 / (1 + 1e-6) ≥ 1: no scaling
    clip_by_global_norm(grads, max_norm=2.0)
    np.testing.assert_array_equal(grads[0], [0.6, 0.8])


def test_sgd_with_clip_norm_steps_by_the_clipped_gradient():
    params, grads = [np.array([1.0, 1.0])], [np.array([30.0, 40.0])]
    dp.SGD(lr=0.1, clip_norm=5.0).step(params, grads)
    factor = 5.0 / (50.0 + 1e-6)
    np.testing.assert_allclose(params[0], [1 - 0.1 * 30 * factor, 1 - 0.1 * 40 * factor])


def test_schedule_drives_the_learning_rate():
    optimizer = dp.SGD(lr=1.0, schedule=dp.StepDecay(step_size=1, gamma=0.5))
    assert run(optimizer, [1.0, 1.0, 1.0], start=0.0) == pytest.approx([-1.0, -1.5, -1.75])
    assert optimizer.current_lr == pytest.approx(0.125)


def test_state_survives_and_is_checked():
    optimizer = dp.Adam()
    run(optimizer, [1.0])
    assert optimizer.iterations == 1
    with pytest.raises(dp.ValidationError, match="state for parameters of other shapes"):
        optimizer.step([np.zeros(3)], [np.zeros(3)])


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "momentum"])
def test_float32_parameters_stay_float32(name):
    optimizer = dp.get_optimizer(name)
    param = np.ones(3, dtype=np.float32)
    optimizer.step([param], [np.ones(3, dtype=np.float32)])
    assert param.dtype == np.float32
    assert all(s.dtype == np.float32 for slot in optimizer.state.values() for s in slot)


def test_get_optimizer_names_and_errors():
    assert dp.get_optimizer("nesterov").nesterov
    assert dp.get_optimizer("momentum").momentum == 0.9
    with pytest.raises(dp.ValidationError, match="did you mean 'adam'"):
        dp.get_optimizer("adma")
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(dp.ValidationError, match="lr must be"):
            dp.SGD(lr=bad)
    with pytest.raises(dp.ValidationError, match="nesterov=True needs momentum"):
        dp.SGD(nesterov=True)


def test_a_step_moves_the_parameters_and_saves_only_the_moment_estimates():
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((3, 2))]
    before = params[0].copy()
    optimizer = dp.Adam(lr=0.1)
    optimizer.step(params, [rng.standard_normal((3, 2))])
    assert not np.array_equal(params[0], before)
    assert optimizer.state_dict()["iterations"] == 1
    assert set(optimizer.state_dict()["state"]) == {"m", "v"}  # no scratch array is saved


def test_a_pickled_optimizer_goes_on_saving_the_state_it_trains_with(engine):
    rng = np.random.default_rng(0)
    X = rng.random((32, 3)).astype(np.float32)
    Y = X @ rng.random((3, 2)).astype(np.float32)
    net = dp.Network.from_sizes([3, 5, 2], output=None, loss="mse", engine=engine)
    optimizer = dp.Adam(lr=0.01)
    net.fit(X, Y, epochs=1, batch_size=8, optimizer=optimizer)
    twin, twin_optimizer = pickle.loads(pickle.dumps((net, optimizer)))
    for network, opt in ((net, optimizer), (twin, twin_optimizer)):
        network.fit(X, Y, epochs=2, batch_size=8, optimizer=opt)
    assert twin.parameter_vector.tobytes() == net.parameter_vector.tobytes()
    saved, twin_saved = optimizer.state_dict(), twin_optimizer.state_dict()
    assert twin_saved["iterations"] == saved["iterations"] == 12
    assert twin_saved["state"].keys() == saved["state"].keys() == {"m", "v"}
    for slot, arrays in saved["state"].items():
        for mine, theirs in zip(twin_saved["state"][slot], arrays, strict=True):
            np.testing.assert_array_equal(mine, theirs)  # the saved views follow the updates
