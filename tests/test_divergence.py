"""Training that blows up stops with a DivergenceError and keeps the last finite parameters.

The network keeps the parameters from before the bad step; the checkpoint file keeps what the
last epoch boundary wrote (the kept parameters give the non-finite loss on that batch by
construction, so they could not be resumed from), and the message points to it.

A learning rate that grows a thousandfold per step (``ExponentialDecay(rate=1000)``) makes the
loss overflow at a known step. ``Recording`` is a real SGD that also keeps a copy of the
parameters after each of its updates, so a test can compare the network and its checkpoint
with the parameters from just before the bad step.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.io import load_checkpoint

RNG = np.random.default_rng(0)
X = RNG.random((40, 4)).astype(np.float32)
Y = RNG.integers(0, 3, 40)


class Recording(dp.SGD):
    """SGD that keeps a copy of the parameters after every update it makes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.after: list[list[np.ndarray]] = []

    def step(self, params, grads):
        super().step(params, grads)
        self.after.append([p.copy() for p in params])


def exploding() -> Recording:
    return Recording(lr=0.1, schedule=dp.ExponentialDecay(rate=1000.0))


def same(arrays, others) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(arrays, others, strict=True))


def test_divergence_names_epoch_and_step_and_keeps_the_parameters_before_it(tmp_path):
    network, optimizer = dp.Network.from_sizes([4, 8, 3]), exploding()
    path = tmp_path / "run.ckpt"
    with pytest.raises(dp.DivergenceError) as raised:
        network.fit(X, Y, epochs=10, batch_size=8, optimizer=optimizer, checkpoint=path)
    message = str(raised.value)
    assert isinstance(raised.value, FloatingPointError)
    # 5 steps per epoch; the 14th update went through, the 15th step's loss overflowed.
    assert len(optimizer.after) == 14
    assert "loss became NaN or infinite at epoch 3, step 5" in message
    assert "Lower the learning rate" in message and "clip_norm=1.0" in message
    assert f"the last checkpoint {path} is untouched: resume from it" in message
    assert "\n" not in message
    kept = network.parameters()
    assert same(kept, optimizer.after[-1])
    assert all(np.isfinite(p).all() for p in kept)
    # The checkpoint is the one written at the end of epoch 2, after update 10, and finite.
    assert same(dp.load(path).parameters(), optimizer.after[9])


def test_the_checkpoint_before_divergence_resumes_with_a_lower_rate(tmp_path):
    path = tmp_path / "run.ckpt"
    with pytest.raises(dp.DivergenceError):
        dp.Network.from_sizes([4, 8, 3]).fit(
            X, Y, epochs=10, batch_size=8, optimizer=exploding(), checkpoint=path
        )
    network, optimizer = dp.Network.from_sizes([4, 8, 3]), dp.SGD(lr=0.01)
    _, position = load_checkpoint(path, network, optimizer)
    assert (position.epoch, position.step, optimizer.iterations) == (2, 0, 10)
    history = dp.Network.from_sizes([4, 8, 3]).fit(
        X, Y, epochs=4, batch_size=8, optimizer=dp.SGD(lr=0.01), resume=path
    )
    assert history.epochs == 4 and np.isfinite(history.loss).all()


def test_divergence_without_a_checkpoint_keeps_the_parameters_in_memory():
    network, optimizer = dp.Network.from_sizes([4, 8, 3]), Recording(lr=1e30)
    with pytest.raises(dp.DivergenceError, match="epoch 1, step 2") as raised:
        network.fit(X, Y, epochs=3, batch_size=8, optimizer=optimizer)
    assert "checkpoint" not in str(raised.value)
    assert len(optimizer.after) == 1 and same(network.parameters(), optimizer.after[0])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(
    "dtype, batch_size, lr, where",
    [
        # lr=1e308 in float64: the first update itself overflows, leaving no finite parameters.
        ("float64", 4, 1e308, "update before epoch 1, step 2"),
        # One batch, lr=1e38 in float32: the only update, the last, overflows the parameters.
        ("float32", 40, 1e38, "update at epoch 1, step 1"),
    ],
)
def test_an_update_beyond_the_float_range_is_named_and_the_old_checkpoint_kept(
    tmp_path, engine, dtype, batch_size, lr, where
):
    """Neither returned as a trained network nor checkpointed with infinite parameters."""
    path = tmp_path / "run.ckpt"
    network = dp.Network.from_sizes([4, 1], output=None, loss="mse", dtype=dtype, engine=engine)
    targets = np.full(40, 100.0)
    network.fit(X, targets, epochs=1, batch_size=batch_size, checkpoint=path)
    before = path.read_bytes()
    with pytest.raises(dp.DivergenceError) as raised:
        network.fit(
            X, targets, epochs=2, batch_size=batch_size, optimizer=dp.SGD(lr=lr), checkpoint=path
        )
    message = str(raised.value)
    assert f"{where} overflowed the parameters" in message
    assert f"learning rate {lr:g}" in message and f"{path} is untouched" in message
    assert path.read_bytes() == before


class Interrupting(dp.SGD):
    """SGD that sends this process SIGINT right after its first update, as Ctrl-C would."""

    def step(self, params, grads):
        super().step(params, grads)
        if self.iterations == 1:
            signal.raise_signal(signal.SIGINT)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_an_interruption_after_an_overflowing_update_writes_no_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    network = dp.Network.from_sizes([4, 1], output=None, loss="mse")
    targets = np.full(40, 100.0)
    network.fit(X, targets, epochs=1, batch_size=20, checkpoint=path)
    before = path.read_bytes()
    with pytest.raises(dp.DivergenceError, match="update at epoch 1, step 1 overflowed"):
        network.fit(
            X, targets, epochs=2, batch_size=20, optimizer=Interrupting(lr=1e38), checkpoint=path
        )
    assert path.read_bytes() == before
