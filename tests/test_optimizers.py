"""Each optimizer's first steps against updates computed by hand."""

import copy
import math
import pickle
import tracemalloc

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.optimizers import clip_by_global_norm
from deltaprop.parameters import Layout, Parameters


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


# Constructor arguments: the defaults, their checks, and config()/repr() rebuilding the object.

DEFAULTS = {
    dp.SGD: dict(lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, clip_norm=None),
    dp.Adam: dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, clip_norm=None),
    dp.AdamW: dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, clip_norm=None),
    dp.RMSprop: dict(lr=1e-3, rho=0.9, eps=1e-8, weight_decay=0.0, clip_norm=None),
    dp.Adagrad: dict(lr=0.01, eps=1e-10, weight_decay=0.0, clip_norm=None),
}


@pytest.mark.parametrize("cls", list(DEFAULTS), ids=lambda cls: cls.__name__)
def test_defaults_and_config_rebuild_the_optimizer(cls):
    optimizer = cls()
    assert optimizer.config() == DEFAULTS[cls]
    assert list(optimizer.config()) == list(DEFAULTS[cls])  # in the signature's order
    args = ", ".join(f"{name}={value!r}" for name, value in DEFAULTS[cls].items())
    assert repr(optimizer) == f"{cls.__name__}({args})"
    assert eval(repr(optimizer), vars(dp)).config() == optimizer.config()
    assert cls(**optimizer.config()).config() == optimizer.config()


@pytest.mark.parametrize("cls", list(DEFAULTS), ids=lambda cls: cls.__name__)
def test_clip_norm_and_schedule_reach_every_optimizer(cls):
    halving = dp.StepDecay(step_size=1, gamma=0.5)
    optimizer = cls(lr=0.5, clip_norm=2.5, schedule=halving)
    assert optimizer.config()["clip_norm"] == 2.5
    assert optimizer.current_lr == 0.5
    optimizer.step([np.zeros(2)], [np.ones(2)])
    assert optimizer.current_lr == 0.25


@pytest.mark.parametrize(
    "cls, argument, value, expected",
    [
        (dp.SGD, "lr", 0, "a finite number > 0"),
        (dp.SGD, "clip_norm", 0.0, "a finite number > 0"),
        (dp.Adam, "clip_norm", math.inf, "a finite number > 0"),
        (dp.SGD, "weight_decay", math.inf, "a number >= 0"),
        (dp.SGD, "weight_decay", -0.1, "a number >= 0"),
        (dp.SGD, "weight_decay", True, "a number >= 0"),
        (dp.SGD, "momentum", 1.0, r"a number in \[0, 1\)"),
        (dp.SGD, "momentum", -0.5, r"a number in \[0, 1\)"),
        (dp.Adam, "beta1", 1, r"a number in \[0, 1\)"),
        (dp.Adam, "beta2", 1.5, r"a number in \[0, 1\)"),
        (dp.Adam, "eps", 0.0, "a finite number > 0"),
        (dp.AdamW, "beta2", -0.1, r"a number in \[0, 1\)"),
        (dp.AdamW, "eps", -1e-8, "a finite number > 0"),
        (dp.RMSprop, "rho", 1.0, r"a number in \[0, 1\)"),
        (dp.RMSprop, "eps", 0, "a finite number > 0"),
        (dp.Adagrad, "eps", math.nan, "a finite number > 0"),
    ],
)
def test_each_bad_argument_is_refused_by_name(cls, argument, value, expected):
    with pytest.raises(dp.ValidationError, match=rf"^{argument} must be {expected}, got "):
        cls(**{argument: value})


def test_get_optimizer_builds_names_with_their_arguments():
    nesterov = dp.get_optimizer("Nesterov", lr=0.5)
    assert type(nesterov) is dp.SGD
    assert nesterov.config() == {**DEFAULTS[dp.SGD], "lr": 0.5, "momentum": 0.9, "nesterov": True}
    momentum = dp.get_optimizer("MOMENTUM", momentum=0.5)
    assert (type(momentum), momentum.momentum, momentum.nesterov) == (dp.SGD, 0.5, False)
    assert dp.get_optimizer("AdamW", eps=1e-6).config() == {**DEFAULTS[dp.AdamW], "eps": 1e-6}
    assert type(dp.get_optimizer(None)) is dp.SGD
    ready = dp.RMSprop()
    assert dp.get_optimizer(ready) is ready


def test_get_optimizer_errors_name_the_choices():
    with pytest.raises(
        dp.ValidationError,
        match=r"^unknown optimizer 'adma'.*; choose one of "
        r"sgd, adam, adamw, rmsprop, adagrad, momentum, nesterov$",
    ):
        dp.get_optimizer("adma")
    with pytest.raises(
        dp.DeltapropTypeError, match=r"^optimizer must be a name such as 'adam' or an Optimizer"
    ):
        dp.get_optimizer(0.1)
    with pytest.raises(dp.DeltapropTypeError, match=r"^optimizer 'adam' .*beta3"):
        dp.get_optimizer("adam", beta3=0.5)


# The step: one pass over the parameter vector, and no temporary array the size of a weight
# matrix (the NumPy updates write into the gradient and a kept work array).


def test_a_users_optimizer_updates_the_whole_parameter_vector_once_per_step(engine):
    calls = []

    class SignDescent(dp.Optimizer):
        """W ← W - η sign(g), the documented way to add an optimizer: override _update."""

        def __init__(self, lr=0.1):
            super().__init__(lr)

        def _update(self, param, grad, lr, state, scratch, decayed):
            calls.append(param.shape)
            param -= lr * np.sign(grad)

    optimizer = SignDescent()
    assert repr(optimizer) == "SignDescent(lr=0.1)"
    rng = np.random.default_rng(0)
    X, Y = rng.random((8, 3)), rng.random((8, 2))
    net = dp.Network.from_sizes([3, 4, 2], output=None, loss="mse", engine=engine)
    net.fit(X, Y, epochs=2, batch_size=8, optimizer=optimizer)
    assert calls == [(net.n_parameters(),)] * 2


def test_the_base_optimizer_has_no_weight_decay_unless_asked():
    class SignDescent(dp.Optimizer):
        def _update(self, param, grad, lr, state, scratch, decayed):
            param -= lr * np.sign(grad)

    weights = np.array([[5.0]])
    SignDescent(lr=0.1).step([weights], [np.array([[-1.0]])])
    assert weights[0, 0] == 5.1  # with L2 decay λ ≥ 1 the gradient -1 + 5λ would turn positive
    weights = np.array([[5.0]])
    SignDescent(lr=0.1, weight_decay=1.0).step([weights], [np.array([[-1.0]])])
    assert weights[0, 0] == 4.9


OPTIMIZERS_WITH_EVERY_PART = [
    dp.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    dp.SGD(lr=0.1, momentum=0.9, weight_decay=0.1),
    dp.Adam(lr=0.1, weight_decay=0.1),
    dp.AdamW(lr=0.1),
    dp.RMSprop(lr=0.1, weight_decay=0.1),
    dp.Adagrad(lr=0.1, weight_decay=0.1),
]


@pytest.mark.parametrize(
    "optimizer",
    OPTIMIZERS_WITH_EVERY_PART,
    ids=["nesterov", "momentum", "adam", "adamw", "rmsprop", "adagrad"],
)
def test_a_step_allocates_no_array_the_size_of_a_weight_matrix(optimizer):
    net = dp.Network.from_sizes([100, 200, 10], engine="numpy")
    params = net.parameters()

    def packed_gradient():
        return Parameters(np.full_like(params.vector, 0.5), params.layout)

    def peak_bytes_of(step):
        tracemalloc.start()
        try:
            step()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # First steps create the state and work arrays: one over the vector, one per array.
    optimizer = copy.deepcopy(optimizer)
    optimizer.step(params, packed_gradient())
    optimizer.step(list(params), list(packed_gradient()))
    smallest_weight_matrix = 200 * 10 * params.vector.itemsize
    grads = packed_gradient()
    assert peak_bytes_of(lambda: optimizer.step(params, grads)) < smallest_weight_matrix / 2
    grads = list(packed_gradient())
    assert peak_bytes_of(lambda: optimizer.step(list(params), grads)) < smallest_weight_matrix / 2


def test_one_optimizer_steps_packed_and_plain_lists_alike():
    """Parameters and gradients as Parameters (views of one vector) or as plain lists, in any
    mix, step as the same arrays would step one by one."""
    net = dp.Network.from_sizes([3, 4, 2], engine="numpy")
    params = net.parameters()
    plain = [p.copy() for p in params]
    optimizer, reference = dp.SGD(lr=0.1, momentum=0.9), dp.SGD(lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    for packed_params, packed_grads in [(1, 1), (1, 0), (1, 1), (0, 1), (0, 0), (1, 1)]:
        gradient = rng.standard_normal(params.layout.size)
        grads = Parameters(gradient.copy(), params.layout)
        optimizer.step(
            params if packed_params else list(params), grads if packed_grads else list(grads)
        )
        reference.step(plain, params.layout.views(gradient))
        for mine, theirs in zip(params, plain, strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-14, atol=1e-15)


def test_a_stateless_sgd_steps_parameters_of_any_shapes():
    optimizer = dp.SGD(lr=0.5, weight_decay=0.5)  # no momentum: no state tied to the shapes
    for shape in [(2, 2), (3, 3), (3, 3)]:
        weights = np.ones(shape)
        optimizer.step([weights], [np.ones(shape)])
        np.testing.assert_array_equal(weights, np.full(shape, 1 - 0.5 * (1 + 0.5)))


def test_parameters_and_gradients_of_different_layouts_are_not_mixed():
    # The same sizes, different shapes: the weights (2, 3) cannot take a (3, 2) gradient.
    params = Parameters(np.zeros(8), Layout([(2, 3), (2,)]))
    grads = Parameters(np.ones(8), Layout([(3, 2), (2,)]))
    with pytest.raises(ValueError):
        dp.SGD().step(params, grads)
    np.testing.assert_array_equal(params.vector, np.zeros(8))


def test_an_optimizer_steps_an_empty_parameter_list():
    for optimizer in (dp.Adam(), dp.SGD(momentum=0.9), dp.Adagrad()):
        optimizer.step([], [])
        assert optimizer.iterations == 1
        assert all(arrays == [] for arrays in optimizer.state_dict()["state"].values())


def test_a_pickled_optimizer_holds_its_state_once_and_no_work_arrays():
    rng = np.random.default_rng(0)
    X, Y = rng.random((16, 100)), rng.random((16, 10))
    net = dp.Network.from_sizes([100, 200, 10], output=None, loss="mse", engine="numpy")
    optimizer = dp.Adam(lr=0.01, weight_decay=0.1)
    net.fit(X, Y, epochs=1, batch_size=8, optimizer=optimizer)
    optimizer.step(list(net.parameters()), [np.ones_like(p) for p in net.parameters()])
    state_bytes = sum(a.nbytes for arrays in optimizer.state.values() for a in arrays)
    assert state_bytes == 2 * net.parameter_vector.nbytes  # m and v
    # The moment estimates once, not also the vectors they view, nor the scratch arrays.
    assert len(pickle.dumps(optimizer)) < state_bytes + net.parameter_vector.nbytes / 4


@pytest.mark.parametrize("grad_shapes", [[(1,)], [(1, 3)], [(3,), (3,)], []])
def test_gradients_of_other_shapes_are_refused(grad_shapes):
    param = np.ones(3)
    with pytest.raises(
        dp.ValidationError,
        match=r"^grads must hold one array of each parameter's shape, got shapes .* for "
        r"parameters of shapes \[\(3,\)\]: pass grads\[i\] as the gradient of params\[i\]",
    ):
        dp.SGD(lr=0.1).step([param], [np.ones(shape) for shape in grad_shapes])
    np.testing.assert_array_equal(param, np.ones(3))
