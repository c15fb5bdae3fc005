"""A run stopped by a signal between two epochs resumes bit-identically.

The signal arrives after epoch 2's last step, so epoch 3 stops before its first step, after
it drew its order of the samples; the checkpoint must not keep that draw, or resuming would
draw a second, different order.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import deltaprop as dp


class SignalAfterEpoch(dp.Callback):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs, network):
        if epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)
        return False


def network() -> dp.Network:
    return dp.Network.from_sizes([4, 8, 2], dropout=0.25, dtype="float64", seed=3)


@pytest.mark.parametrize("epoch", [0, 1])
def test_resume_after_a_signal_between_epochs_is_bit_identical(tmp_path, epoch):
    X = np.random.default_rng(0).normal(size=(100, 4))
    y = (X[:, 0] > 0).astype(np.int64)
    options = {"epochs": 4, "batch_size": 16}
    uninterrupted = network()
    uninterrupted.fit(X, y, optimizer=dp.Adam(0.01), **options)

    checkpoint = tmp_path / "run.safetensors"
    with pytest.raises(dp.TrainingInterrupted, match=f"epoch {epoch + 2}, step 0"):
        network().fit(
            X,
            y,
            optimizer=dp.Adam(0.01),
            callbacks=[SignalAfterEpoch(epoch)],
            checkpoint=checkpoint,
            **options,
        )
    resumed = network()
    resumed.fit(X, y, optimizer=dp.Adam(0.01), resume=checkpoint, **options)

    for mine, expected in zip(resumed.parameters(), uninterrupted.parameters()):
        np.testing.assert_array_equal(mine, expected)
