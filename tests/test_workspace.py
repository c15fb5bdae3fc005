"""The fast training step: preallocated workspaces, in-place updates, float32 kept float32.

These tests pin the properties the speed work must not break: a step's arrays all have the
network's dtype, the arrays a caller is handed are never overwritten later, a workspace gives
the same numbers as fresh arrays, dropout's gradient matches finite differences with the same
mask, and a training step allocates nothing that grows with the number of steps.
"""

from __future__ import annotations

import copy
import itertools
import tracemalloc

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import ACTIVATIONS
from deltaprop.losses import LOSSES
from deltaprop.parameters import Layout, Parameters
from deltaprop.training import _Run
from deltaprop.validation import all_finite, check_targets
from deltaprop.workspace import Workspace

OUTPUT_FOR_LOSS = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def make_problem(loss: str, hidden: str, dtype: str = "float32", dropout: float = 0.0, n=13):
    network = dp.Network.from_sizes(
        [6, 5, 4, 3],
        hidden=hidden,
        output=OUTPUT_FOR_LOSS.get(loss, "identity"),
        loss=loss,
        dtype=dtype,
        seed=1,
        dropout=dropout,
    )
    rng = np.random.default_rng(2)
    for layer in network.layers:
        layer.bias = rng.uniform(-0.5, 0.5, layer.n_out)
    X = rng.standard_normal((n, 6)).astype(dtype)
    if loss == "cross_entropy":
        y = rng.integers(0, 3, n)
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (n, 3)).astype(dtype)
    else:
        y = rng.standard_normal((n, 3)).astype(dtype)
    return network, X, y


def step_arrays(work: Workspace, cache, grads, output) -> list[np.ndarray]:
    """Every array a training step wrote or returned."""
    arrays = [*work.zs, *work.activations, *work.deltas, *cache.inputs, *cache.zs, output]
    arrays += [mask for mask in work.masks if mask is not None]
    arrays += [dropped for dropped in work.dropped if dropped is not None]
    return arrays + [array for pair in grads for array in pair]


@pytest.mark.parametrize(
    ("loss", "hidden"), list(itertools.product(LOSSES, [a for a in ACTIVATIONS]))
)
def test_float32_step_keeps_every_array_float32(loss, hidden):
    network, X, y = make_problem(loss, hidden, "float32", dropout=0.25)
    targets = check_targets(y, len(X), network.n_out, network.loss, network.dtype)
    work = Workspace(network.layers, len(X), network.dtype)
    loss_value, grads, output = network._backprop(X, targets, network.rng, work)
    cache = network._forward(X, network.rng, work)
    assert isinstance(loss_value, float)
    for array in step_arrays(work, cache, grads, output):
        assert array.dtype == np.float32, array.dtype
    for optimizer in ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"):
        opt = dp.get_optimizer(optimizer, lr=1e-3, weight_decay=1e-4)
        params = network.parameters()
        for _ in range(2):
            grads_now = [g.copy() for pair in grads for g in pair]
            opt.step(params, grads_now)
        arrays = params + [a for slot in opt.state.values() for a in slot]
        arrays += list(opt._scratch_arrays.values())
        assert {a.dtype for a in arrays} == {np.dtype(np.float32)}, optimizer


def test_fit_in_float32_stays_float32_and_matches_float64_closely():
    network, X, y = make_problem("cross_entropy", "relu", "float32")
    reference = network.copy(dtype="float64")
    network.fit(X, y, epochs=3, batch_size=4, optimizer=dp.Adam(lr=1e-2))
    reference.fit(X, y, epochs=3, batch_size=4, optimizer=dp.Adam(lr=1e-2))
    for param, exact in zip(network.parameters(), reference.parameters()):
        assert param.dtype == np.float32
        np.testing.assert_allclose(param, exact, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("loss", "hidden"), [("cross_entropy", "relu"), ("mse", "tanh")])
def test_workspace_gives_the_same_numbers_as_fresh_arrays(loss, hidden):
    network, X, y = make_problem(loss, hidden, "float64")
    targets = check_targets(y, len(X), network.n_out, network.loss, network.dtype)
    work = Workspace(network.layers, len(X), network.dtype)
    fresh_loss, fresh_grads, fresh_output = network._backprop(X, targets)
    for _ in range(2):  # the second pass overwrites the first one's arrays
        loss_value, grads, output = network._backprop(X, targets, None, work)
    assert loss_value == fresh_loss
    np.testing.assert_array_equal(output, fresh_output)
    for (dW, db), (fresh_dW, fresh_db) in zip(grads, fresh_grads):
        np.testing.assert_array_equal(dW, fresh_dW)
        np.testing.assert_array_equal(db, fresh_db)


def test_arrays_handed_to_the_caller_are_never_overwritten():
    network, X, y = make_problem("cross_entropy", "relu")
    _, grads = network.gradients(X, y)
    kept = [g.copy() for pair in grads for g in pair]
    output = network.forward(X)
    kept_output = output.copy()
    network.gradients(X[::-1], y[::-1])
    network.forward(X[::-1])
    network.fit(X, y, epochs=2, batch_size=4, optimizer=dp.SGD(lr=0.1))
    for array, copy_ in zip([g for pair in grads for g in pair], kept):
        np.testing.assert_array_equal(array, copy_)
    np.testing.assert_array_equal(output, kept_output)
    assert output.flags.c_contiguous and output.dtype == np.float32


def test_fit_with_a_last_batch_smaller_than_the_others():
    network, X, y = make_problem("cross_entropy", "relu", "float64", n=13)
    clone = network.copy()
    network.fit(X, y, epochs=1, batch_size=5, shuffle=False, optimizer=dp.SGD(lr=0.1))
    # The same three steps by hand: rows 0-4, 5-9 and 10-12.
    for start in (0, 5, 10):
        _, grads = clone.gradients(X[start : start + 5], y[start : start + 5])
        for param, grad in zip(clone.parameters(), [g for pair in grads for g in pair]):
            param -= 0.1 * grad
    for param, expected in zip(network.parameters(), clone.parameters()):
        np.testing.assert_allclose(param, expected, rtol=1e-12, atol=1e-14)


def test_dropout_gradient_matches_finite_differences_with_the_same_mask():
    network, X, y = make_problem("mse", "tanh", "float64", dropout=0.4)
    targets = check_targets(y, len(X), network.n_out, network.loss, network.dtype)
    state = copy.deepcopy(network.rng.bit_generator.state)

    def loss_with_the_same_mask() -> float:
        rng = np.random.default_rng()
        rng.bit_generator.state = copy.deepcopy(state)
        cache = network._forward(X, rng)
        return network.loss.value(cache.zs[-1], cache.output, targets)

    rng = np.random.default_rng()
    rng.bit_generator.state = copy.deepcopy(state)
    work = Workspace(network.layers, len(X), network.dtype)
    _, grads, _ = network._backprop(X, targets, rng, work)
    assert any((mask == 0).any() for mask in work.masks if mask is not None)
    eps = 1e-6
    for param, grad in zip(network.parameters(), [g for pair in grads for g in pair]):
        flat, flat_grad = param.reshape(-1), grad.reshape(-1)
        for index in range(0, flat.size, 3):
            original = flat[index]
            flat[index] = original + eps
            plus = loss_with_the_same_mask()
            flat[index] = original - eps
            minus = loss_with_the_same_mask()
            flat[index] = original
            assert flat_grad[index] == pytest.approx((plus - minus) / (2 * eps), abs=1e-7)


def test_huge_but_finite_gradients_do_not_count_as_divergence():
    # Inputs of 1e19 make float32 gradients of about 1e19: finite, but their squares overflow.
    network, X, y = make_problem("mae", "relu", "float32")
    X = np.full_like(X, 1e19)
    network.fit(X, y, epochs=1, batch_size=13, optimizer=dp.SGD(lr=1e-30))
    assert all(np.isfinite(p).all() for p in network.parameters())


def test_a_non_finite_loss_stops_training_with_the_parameters_kept():
    network, X, y = make_problem("mse", "relu", "float32")
    before = [p.copy() for p in network.parameters()]
    with pytest.raises(dp.DivergenceError, match="loss"):
        network.fit(X, np.full_like(y, 1e30), epochs=1, batch_size=13)
    for param, kept in zip(network.parameters(), before):
        np.testing.assert_array_equal(param, kept)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gradient_entry_is_divergence(bad):
    network, X, y = make_problem("mse", "relu", "float32")
    run = _Run(network, dp.SGD(), X, y, None, False, len(X), False)
    layout = Layout([(4, 3), (4,), (4, 3), (4,)])
    grads = Parameters(np.ones(layout.size, np.float32), layout)
    run._check_finite(1.0, grads, 0, 0)
    grads[2][2, 1] = bad
    with pytest.raises(dp.DivergenceError, match="gradient"):
        run._check_finite(1.0, grads, 0, 0)


def test_training_allocates_nothing_that_grows_with_the_number_of_steps():
    rng = np.random.default_rng(0)
    X = rng.random((256, 32), dtype=np.float32)
    y = rng.integers(0, 10, 256)
    network = dp.Network.from_sizes([32, 64, 32, 10], seed=0)
    optimizer = dp.Adam(lr=1e-3)
    network.fit(X, y, epochs=1, batch_size=16, optimizer=optimizer)  # warm-up: lazy caches
    tracemalloc.start()
    try:
        usage = []
        for steps in (16 * 2, 16 * 8):  # 16 steps per epoch
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            network.fit(X, y, epochs=steps // 16, batch_size=16, optimizer=optimizer)
            current, peak = tracemalloc.get_traced_memory()
            usage.append((peak - before, current - before))
    finally:
        tracemalloc.stop()
    (peak_short, kept_short), (peak_long, kept_long) = usage
    # Four times the steps: the same peak (the workspace and one step's temporaries), and
    # nothing kept beyond the new History's few numbers per epoch.
    assert peak_long <= peak_short + 4096, usage
    assert kept_long <= kept_short + 4096, usage


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_all_finite_is_exact_even_when_the_sum_of_squares_overflows(dtype):
    huge = np.full((50, 7), np.finfo(dtype).max / 2, dtype=dtype)
    assert all_finite(huge)
    for bad in (np.nan, np.inf, -np.inf):
        broken = huge.copy()
        broken[3, 4] = bad
        assert not all_finite(broken)
        broken = np.zeros((50, 7), dtype=dtype)
        broken[49, 6] = bad
        assert not all_finite(broken)
    with pytest.raises(dp.ValidationError, match="NaN or infinite"):
        dp.Network.from_sizes([7, 2], dtype=dtype).forward(broken)


def test_all_finite_of_views_in_any_memory_order():
    array = np.arange(24, dtype=np.float32).reshape(4, 6)
    for view in (array, array.T, np.asfortranarray(array), array[:, ::2], array[::2]):
        assert all_finite(view)
    array[3, 4] = np.nan
    for view in (array, array.T, np.asfortranarray(array), array[:, ::2], array[1:]):
        assert not all_finite(view)
    assert all_finite(array[:, :3])  # the NaN is outside this view


@pytest.mark.parametrize(("loss", "row_major"), [("cross_entropy", False), ("mse", True)])
def test_output_arrays_share_the_layout_of_row_targets(loss, row_major):
    # Mixing layouts in the loss's element-wise loops is several times slower; labels let the
    # output stay column-major for the softmax.
    network, X, y = make_problem(loss, "relu", "float32")
    targets = check_targets(y, len(X), network.n_out, network.loss, network.dtype)
    work = Workspace.for_targets(network.layers, network.dtype, targets)
    output = network._backprop(X, targets, None, work)[2]
    for array in (output, work.zs[-1], work.deltas[-1]):
        assert array.flags.c_contiguous == row_major and array.flags.f_contiguous != row_major
    assert work.zs[0].flags.f_contiguous and not work.zs[0].flags.c_contiguous
