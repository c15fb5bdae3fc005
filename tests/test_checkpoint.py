"""Checkpoints: an interrupted and resumed run ends bit-identical to an uninterrupted one.

Interruptions are real SIGINT/SIGTERM signals raised inside the training loop (by an optimizer
that signals after a chosen update), so they land where a user's Ctrl-C lands: between steps,
at an epoch boundary or after the last step.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.io import load_checkpoint, read_file, save_checkpoint
from deltaprop.training import History, Position

EPOCHS, BATCH = 4, 16  # 40 training rows after the validation split: 3 steps per epoch
STEPS_PER_EPOCH = 3


def signalling(optimizer: dp.Optimizer, after_update: int, signum=signal.SIGINT):
    """Make ``optimizer`` raise ``signum`` right after its ``after_update``-th update."""
    step = optimizer.step

    def step_then_signal(params, grads):
        step(params, grads)
        if optimizer.iterations == after_update:
            signal.raise_signal(signum)

    optimizer.step = step_then_signal
    return optimizer


def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 6)).astype(np.float32)
    return X, rng.integers(0, 3, 50)


def network():
    return dp.Network.from_sizes([6, 8, 8, 3], dropout=0.3, seed=3)


OPTIMIZERS = {
    "adam": lambda: dp.Adam(lr=0.01, weight_decay=1e-3),
    "sgd": lambda: dp.SGD(lr=0.05, momentum=0.9, nesterov=True, schedule=dp.CosineDecay(12)),
    "rmsprop": lambda: dp.RMSprop(lr=0.01, clip_norm=0.5),
}


def train(optimizer, **options):
    X, y = data()
    net = network()
    net.fit(
        X, y, epochs=EPOCHS, batch_size=BATCH, optimizer=optimizer, validation_split=0.2, **options
    )
    return net


def assert_same_run(a: dp.Network, b: dp.Network, opt_a: dp.Optimizer, opt_b: dp.Optimizer):
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert np.array_equal(pa, pb)
    assert opt_a.iterations == opt_b.iterations
    for slot, arrays in opt_a.state.items():
        for sa, sb in zip(arrays, opt_b.state[slot]):
            assert np.array_equal(sa, sb)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    for key, values in a.history.metrics.items():
        if key != "time":
            assert values == b.history.metrics[key], key
    assert a.history.grad_norms == b.history.grad_norms


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize(
    "after_update",
    [1, 2, STEPS_PER_EPOCH, STEPS_PER_EPOCH + 2, 3 * STEPS_PER_EPOCH, EPOCHS * STEPS_PER_EPOCH],
    ids=["epoch1-step1", "epoch1-step2", "epoch-boundary", "epoch2-step2", "last-boundary", "end"],
)
def test_resume_after_interrupt_is_bit_identical(tmp_path, name, after_update):
    reference_optimizer = OPTIMIZERS[name]()
    reference = train(reference_optimizer)
    path = tmp_path / "run.ckpt"
    with pytest.raises(dp.TrainingInterrupted):
        train(signalling(OPTIMIZERS[name](), after_update), checkpoint=path, checkpoint_every=100)
    _, position = load_checkpoint(path, network(), OPTIMIZERS[name]())
    assert position.epoch * STEPS_PER_EPOCH + position.step == after_update
    resumed_optimizer = OPTIMIZERS[name]()
    resumed = train(resumed_optimizer, resume=path)
    assert_same_run(reference, resumed, reference_optimizer, resumed_optimizer)


def test_interrupted_twice_and_sigterm(tmp_path):
    reference_optimizer = dp.Adam(lr=0.01)
    reference = train(reference_optimizer)
    path = tmp_path / "run.ckpt"
    with pytest.raises(dp.TrainingInterrupted):
        train(signalling(dp.Adam(lr=0.01), 2), checkpoint=path)
    with pytest.raises(dp.TrainingInterrupted):
        train(signalling(dp.Adam(lr=0.01), 8, signal.SIGTERM), checkpoint=path, resume=path)
    resumed_optimizer = dp.Adam(lr=0.01)
    resumed = train(resumed_optimizer, resume=path)
    assert_same_run(reference, resumed, reference_optimizer, resumed_optimizer)


def test_interrupt_keeps_the_parameters_of_the_last_whole_step(tmp_path):
    path = tmp_path / "run.ckpt"
    X, y = data()
    net = network()
    with pytest.raises(dp.TrainingInterrupted, match="epoch 2, step 1"):
        net.fit(
            X,
            y,
            epochs=EPOCHS,
            batch_size=BATCH,
            optimizer=signalling(dp.Adam(), 4),
            validation_split=0.2,
            checkpoint=path,
        )
    saved = dp.load(path)  # a checkpoint also loads as a model
    for a, b in zip(net.parameters(), saved.parameters()):
        assert np.array_equal(a, b)


def test_epochs_is_the_total_when_resuming_from_an_epoch_boundary(tmp_path):
    reference_optimizer = dp.Adam(lr=0.01)
    reference = train(reference_optimizer)
    path = tmp_path / "run.ckpt"
    X, y = data()
    network().fit(
        X,
        y,
        epochs=2,
        batch_size=BATCH,
        optimizer=dp.Adam(lr=0.01),
        validation_split=0.2,
        checkpoint=path,
    )
    document, _ = read_file(path)
    assert document["position"]["epoch"] == 2
    resumed_optimizer = dp.Adam(lr=0.01)
    resumed = train(resumed_optimizer, resume=path)
    assert resumed.history.epochs == EPOCHS
    assert_same_run(reference, resumed, reference_optimizer, resumed_optimizer)


def test_checkpoint_every_writes_on_schedule_and_at_the_end(tmp_path):
    path = tmp_path / "run.ckpt"
    X, y = data()
    written = []

    class Record(dp.Callback):
        def on_epoch_end(self, epoch, logs, network):
            written.append(read_file(path)[0]["position"]["epoch"] if path.exists() else None)
            return False

    network().fit(
        X,
        y,
        epochs=5,
        batch_size=BATCH,
        optimizer="adam",
        checkpoint=path,
        checkpoint_every=2,
        callbacks=[Record()],
    )
    # Each value is what the file held when the epoch ended, before that epoch's checkpoint.
    assert written == [None, None, 2, 2, 4]
    assert read_file(path)[0]["position"]["epoch"] == 5


def test_resume_from_a_checkpoint_written_before_the_first_update(tmp_path):
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, network(), dp.Adam(lr=0.01), History(), Position())
    reference_optimizer = dp.Adam(lr=0.01)
    reference = train(reference_optimizer)
    resumed_optimizer = dp.Adam(lr=0.01)
    resumed = train(resumed_optimizer, resume=path)
    assert_same_run(reference, resumed, reference_optimizer, resumed_optimizer)


def early_stopping_run(tmp_path, stop_after: int | None):
    """Train with early stopping; with ``stop_after``, in two runs split after that epoch."""
    X, y = data()

    def fit(epochs, **options):
        net = dp.Network.from_sizes([6, 16, 3], seed=3)
        net.fit(
            X,
            y,
            epochs=epochs,
            batch_size=BATCH,
            optimizer=dp.Adam(lr=0.05),
            validation_split=0.3,
            callbacks=[dp.EarlyStopping(patience=2)],
            **options,
        )
        return net

    if stop_after is None:
        return fit(30)
    fit(stop_after, checkpoint=tmp_path / "es.ckpt")
    return fit(30, resume=tmp_path / "es.ckpt")


def test_early_stopping_state_survives_resume(tmp_path):
    reference = early_stopping_run(tmp_path, None)
    assert reference.history.epochs < 30  # it did stop early
    for stop_after in range(1, reference.history.epochs + 1):
        resumed = early_stopping_run(tmp_path, stop_after)
        assert resumed.history.epochs == reference.history.epochs
        for a, b in zip(reference.parameters(), resumed.parameters()):
            assert np.array_equal(a, b)


def test_resuming_a_run_that_stopped_early_trains_no_further(tmp_path):
    path = tmp_path / "es.ckpt"
    X, y = data()
    stopper = dp.EarlyStopping(patience=2)
    first = dp.Network.from_sizes([6, 16, 3], seed=3)
    first.fit(
        X,
        y,
        epochs=30,
        batch_size=BATCH,
        optimizer=dp.Adam(lr=0.05),
        validation_split=0.3,
        callbacks=[stopper],
        checkpoint=path,
    )
    assert stopper.stopped_epoch is not None
    again = dp.Network.from_sizes([6, 16, 3], seed=3)
    history = again.fit(
        X,
        y,
        epochs=30,
        batch_size=BATCH,
        optimizer=dp.Adam(lr=0.05),
        validation_split=0.3,
        callbacks=[dp.EarlyStopping(patience=2)],
        resume=path,
    )
    assert history.epochs == first.history.epochs
    for a, b in zip(first.parameters(), again.parameters()):
        assert np.array_equal(a, b)  # both end with the best epoch's parameters


def interrupted_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    with pytest.raises(dp.TrainingInterrupted):
        train(signalling(dp.Adam(lr=0.01), 4), checkpoint=path)
    return path


def test_resume_refuses_other_batches_or_data(tmp_path):
    path = interrupted_checkpoint(tmp_path)
    X, y = data()
    with pytest.raises(dp.ValidationError, match=r"in batches of 16.*batches of 8"):
        network().fit(
            X, y, epochs=EPOCHS, batch_size=8, optimizer="adam", validation_split=0.2, resume=path
        )
    with pytest.raises(dp.ValidationError, match=r"40 samples.*30 samples"):
        network().fit(
            X[:30], y[:30], epochs=EPOCHS, batch_size=BATCH, optimizer="adam", resume=path
        )


def test_resume_refuses_another_network_optimizer_or_a_model_file(tmp_path):
    path = interrupted_checkpoint(tmp_path)
    X, y = data()
    wider = dp.Network.from_sizes([6, 9, 8, 3], dropout=0.3, seed=3)
    with pytest.raises(dp.ModelFileError, match="another network"):
        wider.fit(
            X,
            y,
            epochs=EPOCHS,
            batch_size=BATCH,
            optimizer="adam",
            validation_split=0.2,
            resume=path,
        )
    with pytest.raises(dp.ModelFileError, match="optimizer 'adam' but 'sgd'"):
        network().fit(
            X,
            y,
            epochs=EPOCHS,
            batch_size=BATCH,
            optimizer="sgd",
            validation_split=0.2,
            resume=path,
        )
    model = tmp_path / "model.safetensors"
    network().save(model)
    with pytest.raises(dp.ModelFileError, match="not a checkpoint"):
        network().fit(X, y, epochs=EPOCHS, batch_size=BATCH, resume=model)


def test_resume_refuses_optimizer_state_the_optimizer_does_not_use(tmp_path):
    path = tmp_path / "run.ckpt"
    with pytest.raises(dp.TrainingInterrupted):
        train(signalling(dp.SGD(lr=0.01, momentum=0.9), 4), checkpoint=path)
    with pytest.raises(dp.ModelFileError, match=r"state \['velocity'\] that this SGD"):
        train(dp.SGD(lr=0.01), resume=path)
    with pytest.raises(dp.TrainingInterrupted):
        train(signalling(dp.SGD(lr=0.01), 4), checkpoint=path)
    with pytest.raises(dp.ModelFileError, match="lacks the optimizer state 'velocity'"):
        train(dp.SGD(lr=0.01, momentum=0.9), resume=path)
