"""The fit loop: convergence, determinism, validation, callbacks, history, divergence."""

import io
import math
import sys
import time

import numpy as np
import pytest
from conftest import require

import deltaprop as dp
from deltaprop.io import read_file

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def blobs(n=300, seed=0):
    """Three well separated Gaussian blobs in 2-D, labels 0..2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 3], [3, -2], [-3, -2]])
    y = rng.integers(0, 3, size=n)
    return (centres[y] + rng.normal(size=(n, 2))).astype(np.float32), y


def test_xor_is_learned_to_full_accuracy():
    net = dp.Network.from_sizes(
        [2, 4, 1], hidden="tanh", output="sigmoid", loss="binary_cross_entropy", seed=0
    )
    net.fit(XOR_X, XOR_Y, epochs=500, batch_size=4, optimizer=dp.SGD(lr=0.5))
    np.testing.assert_array_equal(net.predict(XOR_X), XOR_Y)
    assert net.evaluate(XOR_X, XOR_Y)["accuracy"] == 1.0


def test_xor_with_the_seeds_sigmoid_and_mse():
    net = dp.Network.from_sizes([2, 3, 1], hidden="sigmoid", output="sigmoid", loss="mse", seed=1)
    net.fit(XOR_X, XOR_Y, epochs=2000, batch_size=1, optimizer=dp.SGD(lr=2.0))
    np.testing.assert_array_equal((net.predict(XOR_X)[:, 0] > 0.5).astype(int), XOR_Y)


def test_regression_converges():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(256, 1))
    y = np.sin(X)
    net = dp.Network.from_sizes([1, 32, 1], hidden="tanh", output="identity", loss="mse")
    history = net.fit(X, y, epochs=150, batch_size=32, optimizer=dp.Adam(lr=0.01))
    assert history.loss[-1] < 0.01 < history.loss[0]
    assert "accuracy" not in history


def test_same_seed_same_bits_after_training_with_dropout():
    X, y = blobs()

    def train(seed):
        net = dp.Network.from_sizes([2, 16, 16, 3], dropout=0.3, seed=seed)
        net.fit(X, y, epochs=3, batch_size=16, optimizer=dp.Adam(lr=0.01))
        return b"".join(p.tobytes() for p in net.parameters())

    assert train(5) == train(5)
    assert train(5) != train(6)


def test_history_records_every_epoch():
    X, y = blobs()
    net = dp.Network.from_sizes([2, 8, 3])
    history = net.fit(
        X, y, epochs=4, batch_size=32, validation_split=0.2, optimizer=dp.Adam(lr=0.05)
    )
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"):
        assert len(history[key]) == 4, key
    assert len(history.grad_norms) == 4 and len(history.grad_norms[0]) == 2
    assert all(n > 0 for n in history.grad_norms[0])
    assert net.history is history
    assert history.val_accuracy[-1] > 0.9


def test_validation_data_and_split_are_exclusive():
    X, y = blobs()
    net = dp.Network.from_sizes([2, 3])
    with pytest.raises(dp.ValidationError, match="not both"):
        net.fit(X, y, validation_data=(X, y), validation_split=0.1)


def test_fit_again_continues_with_the_same_optimizer():
    X, y = blobs()
    optimizer = dp.Adam(lr=0.01)
    net = dp.Network.from_sizes([2, 8, 3])
    net.fit(X, y, epochs=1, batch_size=50, optimizer=optimizer)
    assert optimizer.iterations == 6
    first = net.evaluate(X, y)["loss"]
    net.fit(X, y, epochs=2, batch_size=50, optimizer=optimizer)
    assert optimizer.iterations == 18
    assert net.evaluate(X, y)["loss"] < first


def test_batch_size_larger_than_data_is_clipped():
    X, y = blobs(n=10)
    optimizer = dp.SGD()
    dp.Network.from_sizes([2, 3]).fit(X, y, epochs=2, batch_size=1000, optimizer=optimizer)
    assert optimizer.iterations == 2


def test_early_stopping_restores_the_best_weights():
    X, y = blobs()
    X_val, y_val = blobs(n=100, seed=1)
    y_val = (y_val + 1) % 3  # a validation set that gets worse as training improves
    net = dp.Network.from_sizes([2, 8, 3])
    stopper = dp.EarlyStopping(patience=2)
    history = net.fit(
        X,
        y,
        epochs=50,
        batch_size=32,
        optimizer=dp.Adam(lr=0.01),
        validation_data=(X_val, y_val),
        callbacks=[stopper],
    )
    assert history.epochs < 50
    assert stopper.best_epoch == int(np.argmin(history.val_loss))
    assert net.evaluate(X_val, y_val)["loss"] == pytest.approx(min(history.val_loss), rel=1e-5)


def test_early_stopping_needs_validation():
    X, y = blobs()
    with pytest.raises(dp.ValidationError, match="pass validation_data or validation_split"):
        dp.Network.from_sizes([2, 3]).fit(X, y, epochs=2, callbacks=[dp.EarlyStopping()])


def test_dropout_only_during_training():
    X, y = blobs(n=50)
    net = dp.Network.from_sizes([2, 64, 3], dropout=0.5)
    np.testing.assert_array_equal(net.forward(X), net.forward(X))
    loss_a, _ = net.gradients(X, y)
    loss_b, _ = net.gradients(X, y)
    assert loss_a == loss_b


def test_divergence_stops_with_the_parameters_before_the_bad_step():
    X, y = blobs()
    X = X * 1e4
    net = dp.Network.from_sizes([2, 64, 64, 1], output="identity", loss="mse")

    class RecordingSGD(dp.SGD):
        def step(self, params, grads):
            super().step(params, grads)
            self.last = [p.copy() for p in params]

    optimizer = RecordingSGD(lr=10.0)
    with pytest.raises(dp.DivergenceError, match=r"epoch \d+, step \d+.*Lower the learning rate"):
        net.fit(X, y * 1e6, epochs=50, batch_size=30, optimizer=optimizer)
    assert optimizer.iterations >= 1
    for kept, last_good in zip(net.parameters(), optimizer.last):
        np.testing.assert_array_equal(kept, last_good)


def test_float32_training_keeps_float32():
    X, y = blobs()
    net = dp.Network.from_sizes([2, 8, 3])
    net.fit(X.astype(np.float64), y, epochs=1, optimizer=dp.Adam())
    assert all(p.dtype == np.float32 for p in net.parameters())


def test_mse_with_class_labels_reports_accuracy():
    X, y = blobs()
    net = dp.Network.from_sizes([2, 16, 3], output="sigmoid", loss="mse")
    history = net.fit(X, y, epochs=20, batch_size=16, optimizer=dp.SGD(lr=1.0))
    assert history.accuracy[-1] > 0.9
    assert net.evaluate(X, y)["accuracy"] > 0.9


def test_early_stopping_on_accuracy_waits_for_it_to_rise():
    stopper = dp.EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=False)
    net = dp.Network.from_sizes([2, 3])
    stopper.on_train_begin(net)
    rising = [
        stopper.on_epoch_end(e, {"val_accuracy": v}, net) for e, v in enumerate([0.5, 0.6, 0.7])
    ]
    assert rising == [False, False, False] and stopper.best == 0.7
    falling = [stopper.on_epoch_end(e, {"val_accuracy": 0.6}, net) for e in (3, 4)]
    assert falling == [False, True] and stopper.best_epoch == 2


# ------------------------------------------- the bookkeeping, checked against hand arithmetic


def still() -> dp.SGD:
    """A learning rate so small the parameters stay as they were (to 1e-12) within a test, so
    an epoch's logged numbers can be computed by hand from the initial parameters."""
    return dp.SGD(lr=1e-12)


def averaging_network(width: int, dropout: float = 0.0, engine: str = "auto") -> dp.Network:
    """x → ``width`` identity units with weights 1 → one identity output, their mean: ŷ = x."""
    hidden = dp.Dense(1, width, activation="identity", dropout=dropout)
    hidden.weights, hidden.bias = np.ones((width, 1)), np.zeros(width)
    output = dp.Dense(width, 1, activation="identity")
    output.weights, output.bias = np.full((1, width), 1 / width), np.zeros(1)
    return dp.Network([hidden, output], loss="mse", dtype="float64", engine=engine)


def squares(n: int) -> tuple[np.ndarray, np.ndarray]:
    """x = 0, 1, ..., n-1 with target 0: the averaging network's loss on row x is x²."""
    return np.arange(n, dtype=np.float64)[:, None], np.zeros((n, 1))


def test_inverted_dropout_keeps_units_with_probability_1_minus_p_and_scales_them(engine):
    # Each of the 4000 units is kept with probability 0.8 and scaled by 1/0.8, so the output
    # (their mean) stays 1 and the loss (ŷ - 0)² stays 1 + Var ≈ 1.00006. Without the scaling
    # it would be 0.8² = 0.64; keeping units with probability p = 0.2 instead gives 0.25² ≈ 0.06.
    net = averaging_network(4000, dropout=0.2, engine=engine)
    X, y = np.ones((64, 1)), np.zeros((64, 1))
    history = net.fit(X, y, epochs=1, batch_size=64, optimizer=still())
    assert history.loss[0] == pytest.approx(1.0, abs=0.01)
    assert net.evaluate(X, y)["loss"] == pytest.approx(1.0)  # no dropout outside training


@pytest.mark.parametrize("shuffle", [False, True])
def test_epoch_loss_weights_each_batch_by_its_size(shuffle):
    # Batches of 4 over 10 rows: the last holds 2. Weighted by size the epoch loss is the mean of
    # x² over 0..9, 28.5; counting the short batch as a full one would give 430/12 ≈ 35.8.
    X, y = squares(10)
    history = averaging_network(1).fit(
        X, y, epochs=1, batch_size=4, shuffle=shuffle, optimizer=still()
    )
    assert history.loss[0] == pytest.approx(28.5)


def test_validation_split_holds_out_the_last_rows():
    # 0.2 of 10 rows: x = 8, 9 are held out (mean x² = 72.5), 0..7 train (mean x² = 17.5).
    X, y = squares(10)
    history = averaging_network(1).fit(X, y, epochs=1, validation_split=0.2, optimizer=still())
    assert history.val_loss[0] == pytest.approx(72.5)
    assert history.loss[0] == pytest.approx(17.5)


def test_grad_norms_are_the_mean_of_the_sampled_norms_per_epoch():
    # 20 steps of one row x = 1 (ŷ = 1, L = ŷ²): ∂L/∂W^1 = ∂L/∂W^2 = 2 at every step, sampled
    # at steps 0 and 10. Their mean is 2 in each epoch; a sum would give 4, then more.
    X, y = np.ones((20, 1)), np.zeros((20, 1))
    history = averaging_network(1).fit(X, y, epochs=2, batch_size=1, optimizer=still())
    np.testing.assert_allclose(history.grad_norms, [[2.0, 2.0], [2.0, 2.0]], rtol=1e-9)


def test_shuffle_reorders_the_samples_of_data_not_sorted_by_label():
    X, y = blobs(n=120)
    assert not np.all(np.diff(y) >= 0)  # the labels are mixed: order matters only by shuffling

    def train(shuffle):
        net = dp.Network.from_sizes([2, 8, 3], seed=0)
        net.fit(X, y, epochs=2, batch_size=8, shuffle=shuffle, optimizer=dp.SGD(lr=0.1))
        return net.parameters()

    shuffled, in_order = train(True), train(False)
    assert any(not np.array_equal(a, b) for a, b in zip(shuffled, in_order))
    for a, b in zip(train(True), shuffled):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_counts_only_improvements_larger_than_min_delta():
    net = dp.Network.from_sizes([2, 3])
    stopper = dp.EarlyStopping(patience=2, min_delta=0.125, restore_best_weights=False)
    stopper.on_train_begin(net)
    # 0.875 is exactly 1 - 0.125 (no rounding): not more than min_delta better, so not counted.
    losses = [1.0, 0.95, 0.875]
    stops = [stopper.on_epoch_end(e, {"val_loss": v}, net) for e, v in enumerate(losses)]
    assert stops == [False, False, True] and stopper.best == 1.0 and stopper.stopped_epoch == 2

    stopper = dp.EarlyStopping(monitor="val_accuracy", patience=2, min_delta=0.125)
    stopper.on_train_begin(net)
    accuracies = [0.5, 0.6, 0.625]
    stops = [stopper.on_epoch_end(e, {"val_accuracy": v}, net) for e, v in enumerate(accuracies)]
    assert stops == [False, False, True] and stopper.best == 0.5 and stopper.best_epoch == 0


def test_history_get_and_its_notebook_view():
    history = dp.History()
    history.append({"loss": 0.5, "accuracy": 0.75}, [1.0])
    assert history.get("loss") == [0.5] and history.get("val_loss") is None
    assert history.get("val_loss", []) == []
    assert "History of 1 epochs" in history._repr_html_()


def labelled_four() -> tuple[dp.Network, np.ndarray, np.ndarray]:
    """A 2-class softmax network z = x on four points, three of them labelled as it predicts."""
    net = dp.Network([dp.Dense(2, 2, activation="softmax")], dtype="float64")
    net.layers[0].weights, net.layers[0].bias = np.eye(2), np.zeros(2)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.5], [0.0, 3.0]])
    return net, X, np.array([0, 1, 0, 0])  # the last is predicted 1


def test_accuracy_is_the_fraction_classified_right():
    net, X, y = labelled_four()
    assert net.evaluate(X, y)["accuracy"] == 0.75
    history = net.fit(X, y, epochs=1, batch_size=4, optimizer=still())
    assert history.accuracy == [0.75]


def test_evaluate_in_batches_sums_over_all_of_them():
    net, X, y = labelled_four()
    whole = net.evaluate(X, y)
    batched = net.evaluate(X, y, batch_size=3)  # batches of 3 and 1
    assert batched["accuracy"] == whole["accuracy"] == 0.75
    assert batched["loss"] == pytest.approx(whole["loss"], rel=1e-12)


def test_early_stopping_before_training_and_its_state_round_trip():
    stopper = dp.EarlyStopping()
    assert stopper.patience == 5 and stopper.best == math.inf and stopper.best_epoch == -1
    assert stopper.best_parameters is None and stopper.stopped_epoch is None
    assert dp.EarlyStopping(monitor="val_accuracy").best == -math.inf
    net = dp.Network.from_sizes([2, 3])
    for restore in (True, False):
        trained = dp.EarlyStopping(patience=1, restore_best_weights=restore)
        trained.on_train_begin(net)
        for epoch, loss in enumerate([0.5, 0.7]):
            trained.on_epoch_end(epoch, {"val_loss": loss}, net)
        resumed = dp.EarlyStopping(patience=1, restore_best_weights=restore)
        resumed.load_state_dict(trained.state_dict())
        assert (resumed.best, resumed.best_epoch, resumed.stopped_epoch) == (0.5, 0, 1)
        if restore:
            for ours, theirs in zip(resumed.best_parameters, net.parameters()):
                np.testing.assert_array_equal(ours, theirs)
        else:
            assert resumed.best_parameters is None


def test_early_stopping_on_a_monitor_that_never_improves_stops_after_patience_epochs():
    net = dp.Network.from_sizes([2, 3])
    stopper = dp.EarlyStopping(patience=2)
    stopper.on_train_begin(net)
    stops = [stopper.on_epoch_end(e, {"val_loss": math.inf}, net) for e in range(2)]
    assert stops == [False, True] and stopper.best_epoch == -1
    stopper.on_train_end(net)  # no best weights to restore: nothing changes


def test_early_stopping_names_patience_exactly():
    with pytest.raises(dp.ValidationError) as raised:
        dp.EarlyStopping(patience=0)
    assert str(raised.value) == "patience must be a positive integer, got 0"


def test_sigmoid_accuracy_thresholds_outputs_and_soft_targets_at_one_half():
    # Weights 0: σ(0) = 0.5 for every row, which counts as 1; so do targets of 0.5 and above.
    net = dp.Network([dp.Dense(2, 1, activation="sigmoid")], loss="bce", dtype="float64")
    net.layers[0].weights = np.zeros((1, 2))
    X, y = np.ones((4, 2)), np.array([[1.0], [0.0], [1.0], [0.5]])
    assert net.evaluate(X, y)["accuracy"] == 0.75
    # A softmax classifier with one-hot rows compares the argmax, not a threshold.
    softmax, X4, labels = labelled_four()
    assert softmax.evaluate(X4, np.eye(2)[labels])["accuracy"] == 0.75


def test_validation_split_may_leave_one_sample_but_not_all():
    X, y = squares(10)
    history = averaging_network(1).fit(X, y, epochs=1, validation_split=0.1, optimizer=still())
    assert history.val_loss[0] == pytest.approx(81.0)  # x = 9 alone
    with pytest.raises(dp.ValidationError, match="leaves 4 of 4 samples for validation"):
        averaging_network(1).fit(X[:4], y[:4], validation_split=0.9)


def test_an_epoch_of_one_step_has_its_one_gradient_norm_and_its_duration(capsys):
    X, y = np.ones((5, 1)), np.zeros((5, 1))
    started = time.perf_counter()
    history = averaging_network(1).fit(X, y, epochs=2, batch_size=5, optimizer=still(), verbose=2)
    elapsed = time.perf_counter() - started
    np.testing.assert_allclose(history.grad_norms, [[2.0, 2.0], [2.0, 2.0]], rtol=1e-9)
    assert all(0 <= seconds <= elapsed for seconds in history["time"])
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert lines[0].startswith("epoch 1/2: loss 1.0000")


def test_validation_data_is_prepared_as_evaluate_prepares_it():
    # float64 inputs and 0/1 labels for a float32 network with one sigmoid output: cast to float32
    # and made a column for binary cross-entropy, the logged val_loss is evaluate's to the bit.
    rng = np.random.default_rng(4)
    X, X_val = rng.normal(size=(40, 3)), rng.normal(size=(20, 3))
    y, y_val = (X[:, 0] > 0).astype(int), (X_val[:, 0] > 0).astype(int)
    net = dp.Network.from_sizes([3, 4, 1], output="sigmoid", loss="bce")
    history = net.fit(X, y, epochs=1, validation_data=(X_val, y_val), optimizer=dp.SGD(lr=0.1))
    result = net.evaluate(X_val, y_val)
    assert history.val_loss == [result["loss"]] and history.val_accuracy == [result["accuracy"]]
    # ... and checked by the loss's rules: one sigmoid output takes labels 0 and 1 only.
    with pytest.raises(dp.ValidationError, match="one sigmoid output"):
        net.fit(X, y, epochs=1, validation_data=(X_val, np.arange(20) % 3))


# ------------------------------------------------- defaults, argument names and error messages


def test_fit_called_directly_has_the_documented_defaults(tmp_path, capsys):
    # 33 rows: batches of 32 make 2 steps an epoch (33 would make 1), shuffled each epoch,
    # SGD(lr=0.01), 10 epochs, no validation, silent, a checkpoint after every epoch.
    X, y = blobs(n=33)
    path = tmp_path / "run.ckpt"
    on_file = []

    class Record(dp.Callback):
        def on_epoch_end(self, epoch, logs, network):
            on_file.append(read_file(path)[0]["position"]["epoch"] if path.exists() else None)
            return False

    net = dp.Network.from_sizes([2, 4, 3], seed=0)
    history = dp.fit(net, X, y, checkpoint=path, callbacks=[Record()])
    assert capsys.readouterr().err == ""
    assert history.epochs == 10 and history.get("val_loss") is None
    assert on_file == [None, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    explicit, optimizer = dp.Network.from_sizes([2, 4, 3], seed=0), dp.SGD(lr=0.01)
    explicit.fit(X, y, epochs=10, batch_size=32, optimizer=optimizer, shuffle=True)
    assert optimizer.iterations == 20
    for a, b in zip(net.parameters(), explicit.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"checkpoint_every": 0}, "checkpoint_every must be a positive integer, got 0"),
        ({"validation_split": 1.5}, "validation_split must be a number in [0, 1), got 1.5"),
    ],
)
def test_fit_names_the_argument_it_refuses(option, message):
    X, y = blobs(n=10)
    with pytest.raises(dp.ValidationError) as raised:
        dp.Network.from_sizes([2, 3]).fit(X, y, epochs=1, **option)
    assert str(raised.value) == message


def test_evaluate_checks_targets_by_the_loss_and_names_batch_size():
    net = dp.Network.from_sizes([2, 1], output="sigmoid", loss="bce")
    X = np.zeros((3, 2))
    with pytest.raises(dp.ValidationError, match="one sigmoid output"):
        net.evaluate(X, np.array([0, 2, 1]))
    with pytest.raises(dp.ValidationError, match=r"targets must lie in \[0, 1\]"):
        net.evaluate(X, np.array([[0.0], [1.5], [1.0]]))
    with pytest.raises(dp.ValidationError) as raised:
        net.evaluate(X, np.array([0, 1, 1]), batch_size=0)
    assert str(raised.value) == "batch_size must be a positive integer, got 0"


def test_resuming_with_other_batches_names_the_checkpoint_and_both_runs(tmp_path):
    X, y = blobs(n=40)
    path = tmp_path / "run.ckpt"
    dp.Network.from_sizes([2, 3], seed=0).fit(X, y, epochs=1, batch_size=8, checkpoint=path)
    with pytest.raises(dp.ValidationError) as raised:
        dp.Network.from_sizes([2, 3], seed=0).fit(X, y, epochs=2, batch_size=10, resume=path)
    assert str(raised.value) == (
        f"{path} was written training on 40 samples in batches of 8, but this run has 40 "
        "samples in batches of 10: resume with the same data, validation split and batch size"
    )


# ------------------------------------------------------------ what the epoch loop computes


def test_inputs_of_another_dtype_train_and_evaluate_as_their_cast(engine):
    # float64 data for a float32 network: training, validation and evaluate all see the float32
    # cast, to the bit, not float64 products of float32 weights.
    rng = np.random.default_rng(3)
    X, X_val = rng.normal(size=(24, 3)), rng.normal(size=(500, 3))
    y, y_val = rng.integers(0, 3, 24), rng.integers(0, 3, 500)

    def train(X, X_val):
        net = dp.Network.from_sizes([3, 5, 3], seed=1, engine=engine)
        history = net.fit(
            X, y, epochs=2, batch_size=8, optimizer=dp.SGD(lr=0.1), validation_data=(X_val, y_val)
        )
        return net, history

    net64, history64 = train(X, X_val)
    net32, history32 = train(X.astype(np.float32), X_val.astype(np.float32))
    for a, b in zip(net64.parameters(), net32.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert history64.loss == history32.loss and history64.val_loss == history32.val_loss
    assert net32.evaluate(X_val, y_val) == net32.evaluate(X_val.astype(np.float32), y_val)


def test_logged_val_loss_equals_evaluate_to_the_bit_beyond_one_batch_of_1024():
    # 1100 validation rows: evaluate's default batches of 1024 (a batch of 1024 and one of 76)
    # are the ones fit's validation uses, so the logged val_loss is evaluate's own number.
    rng = np.random.default_rng(5)
    X_val, y_val = rng.normal(size=(1100, 2)).astype(np.float32), rng.integers(0, 3, 1100)
    net = dp.Network.from_sizes([2, 3], seed=0)
    history = net.fit(
        X_val[:8], y_val[:8], epochs=1, optimizer=still(), validation_data=(X_val, y_val)
    )
    result = dp.evaluate(net, X_val, y_val)
    assert result == net.evaluate(X_val, y_val, batch_size=1024)
    assert history.val_loss == [result["loss"]] and history.val_accuracy == [result["accuracy"]]


def test_grad_norms_average_the_weight_gradients_of_every_10th_step():
    # Rows x = 0..19 in order, one per step: ∂L/∂W^1 = ∂L/∂W^2 = 2x² (∂L/∂b = 2x). Steps 0 and
    # 10 are sampled: the mean of 0 and 200 is 100 for both layers.
    X, y = squares(20)
    history = averaging_network(1).fit(
        X, y, epochs=1, batch_size=1, shuffle=False, optimizer=still()
    )
    np.testing.assert_allclose(history.grad_norms, [[100.0, 100.0]], rtol=1e-6)


def test_training_applies_dropout_and_evaluation_does_not(engine):
    # One hidden unit, dropped with probability 0.5 and doubled when kept: a row's loss ŷ² is 0
    # or 4, so the epoch's (one batch, before its update) is 4k/64 with k of the 64 rows kept,
    # about half. Without dropout every row's loss, and the epoch's, would be 1 (k = 16).
    net = averaging_network(1, dropout=0.5, engine=engine)
    X, y = np.ones((64, 1)), np.zeros((64, 1))
    history = net.fit(X, y, epochs=1, batch_size=64, optimizer=still())
    kept = history.loss[0] * 64 / 4
    assert kept == round(kept) and 22 <= kept <= 42
    assert net.evaluate(X, y)["loss"] == pytest.approx(1.0)


def test_a_callback_overriding_only_begin_and_end_lets_every_epoch_run():
    seen = []

    class Watch(dp.Callback):
        def on_train_begin(self, network):
            seen.append(("begin", network))

        def on_train_end(self, network):
            seen.append(("end", network))

    X, y = blobs(n=20)
    net = dp.Network.from_sizes([2, 3])
    history = net.fit(X, y, epochs=3, batch_size=10, callbacks=[Watch()])
    assert history.epochs == 3
    assert [(when, network is net) for when, network in seen] == [("begin", True), ("end", True)]


# ------------------------------------------------------------- progress on a terminal


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so ``verbose=1`` draws its bar there."""

    def isatty(self):
        return True


class SlowFirstStep(dp.SGD):
    """SGD whose first update takes 0.15 s: past tqdm's 0.1 s between redraws, the bar then
    shows its postfix (loss, accuracy, samples/s) once."""

    def step(self, params, grads):
        if self.iterations == 0:
            time.sleep(0.15)
        super().step(params, grads)


def test_verbose_1_draws_a_bar_of_each_epochs_steps_on_a_terminal(monkeypatch):
    require("tqdm", 'pip install "deltaprop[cli]"')
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    X, y = squares(10)  # batches of 4: 3 steps an epoch
    history = averaging_network(1).fit(
        X, y, epochs=2, batch_size=4, shuffle=False, verbose=1, optimizer=SlowFirstStep(1e-12)
    )
    text = terminal.getvalue()
    for epoch in (1, 2):
        assert f"epoch {epoch}/2:   0%|" in text and "| 0/3 [" in text  # each bar from 0 of 3
        assert f"epoch {epoch}/2: loss " in text  # ... and the epoch's line after it
    # The first redraw, after step 1 (rows 0..3, mean x² 3.5): a regression shows no accuracy.
    assert "| 1/3 [" in text and "loss=3.5000, samples/s=" in text and "acc" not in text
    assert history.epochs == 2


# ----------------------------------------------------------------- divergence messages


@pytest.mark.filterwarnings("error")  # divergence is the error, without NumPy's warnings
def test_a_non_finite_loss_or_gradient_is_named_without_numpy_warnings(engine):
    X = np.full((2, 1), 1e30)
    # Hidden units ±1e40 overflow to ±inf, and the output sums them to NaN: the loss is NaN.
    hidden = dp.Dense(1, 2, activation="identity")
    hidden.weights, hidden.bias = np.array([[1e10], [-1e10]]), np.zeros(2)
    output = dp.Dense(2, 1, activation="identity")
    output.weights, output.bias = np.ones((1, 2)), np.zeros(1)
    net = dp.Network([hidden, output], loss="mse", engine=engine)
    with pytest.raises(dp.DivergenceError) as raised:
        net.fit(X, np.zeros(2), epochs=1, batch_size=2, optimizer=dp.SGD(lr=1e-3))
    assert str(raised.value).startswith(
        "training diverged: the loss became NaN or infinite at epoch 1, step 1; the parameters "
        "from before this step are kept."
    )
    # z = 1e20, a finite loss of about 1e20 for target 0, but ∂L/∂W^1 = 1e10 · 1e30 overflows.
    hidden = dp.Dense(1, 1, activation="identity")
    hidden.weights, hidden.bias = np.array([[1e-20]]), np.zeros(1)
    output = dp.Dense(1, 1, activation="sigmoid")
    output.weights, output.bias = np.array([[1e10]]), np.zeros(1)
    net = dp.Network([hidden, output], loss="bce", engine=engine)
    with pytest.raises(dp.DivergenceError) as raised:
        net.fit(X, np.zeros(2), epochs=1, batch_size=2, optimizer=dp.SGD(lr=1e-3))
    assert str(raised.value).startswith(
        "training diverged: the gradient became NaN or infinite at epoch 1, step 1;"
    )


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(
    ("n_rows", "optimizer", "update", "lr"),
    [
        # One step an epoch, η_t = 1e38 · 0.5^t: the first update (t = 0) overflows.
        (
            4,
            lambda: dp.SGD(lr=1e38, schedule=dp.StepDecay(1, gamma=0.5)),
            "at epoch 1, step 1",
            "1e+38",
        ),
        # Three steps, η_t = 0.01 · (1e40)^⌊t/2⌋: the third update (t = 2) is the one.
        (
            12,
            lambda: dp.SGD(lr=0.01, schedule=dp.StepDecay(2, gamma=1e40)),
            "at epoch 1, step 3",
            "1e+38",
        ),
    ],
    ids=["first-update", "third-update"],
)
def test_an_overflowing_update_is_named_with_the_learning_rate_it_used(
    n_rows, optimizer, update, lr
):
    X = np.ones((n_rows, 4), dtype=np.float32)
    net = dp.Network.from_sizes([4, 1], output=None, loss="mse")
    with pytest.raises(dp.DivergenceError) as raised:
        net.fit(X, np.full(n_rows, 100.0), epochs=1, batch_size=4, optimizer=optimizer())
    assert str(raised.value).startswith(
        f"training diverged: the update {update} overflowed the parameters to infinity "
        f"(learning rate {lr}); the network is unusable."
    )


def test_distributed_must_be_a_bool_none_or_a_communicator():
    X, y = blobs(n=10)
    with pytest.raises(dp.DeltapropTypeError) as raised:
        dp.Network.from_sizes([2, 3]).fit(X, y, epochs=1, distributed="yes")
    assert str(raised.value) == (
        "distributed must be True, False, None or an mpi4py communicator, got str"
    )


# ------------------------------------------------------------------ which accuracy is logged


def three_class_softmax() -> tuple[dp.Network, np.ndarray, np.ndarray]:
    """z = x on three points, each classified right with a probability below 1/2."""
    net = dp.Network([dp.Dense(3, 3, activation="softmax")], dtype="float64")
    net.layers[0].weights, net.layers[0].bias = np.eye(3), np.zeros(3)
    X = np.array([[1.0, 0.9, 0.8], [0.0, 0.5, 0.1], [0.2, 0.0, 0.3]])
    return net, X, np.array([0, 1, 2])


def test_softmax_accuracy_on_one_hot_rows_compares_the_argmax_not_each_unit_at_one_half():
    # Every row's largest probability (about 0.37-0.41) is its class's: all three are right. A
    # threshold at 1/2 would call every unit 0, matching 2 of each row's 3 targets.
    net, X, labels = three_class_softmax()
    assert net.evaluate(X, np.eye(3)[labels])["accuracy"] == 1.0
    assert net.evaluate(X, labels)["accuracy"] == 1.0
    # So does a sigmoid output trained with mse on class labels (not a classifier's loss).
    sigmoid = dp.Network([dp.Dense(3, 3, activation="sigmoid")], loss="mse", dtype="float64")
    sigmoid.layers[0].weights, sigmoid.layers[0].bias = np.eye(3), np.full(3, -2.0)
    assert sigmoid.evaluate(X, labels)["accuracy"] == 1.0  # σ(x - 2) < 1/2 everywhere


@pytest.mark.parametrize(
    ("sizes", "loss", "y", "logged"),
    [
        ([2, 2], "mse", np.zeros((6, 2)), False),  # two regression outputs
        ([2, 1], "mse", np.zeros(6), False),  # one regression output, y of shape (N,)
        ([2, 2], "mse", np.arange(6) % 2, True),  # class labels for two mse outputs
        ([2, 3], "cross_entropy", np.arange(6) % 3, True),
    ],
    ids=["regression-2", "regression-1-flat", "labels-mse-2", "classifier"],
)
def test_accuracy_is_logged_for_classifiers_and_class_labels_only(sizes, loss, y, logged):
    X = np.arange(12, dtype=np.float32).reshape(6, 2) / 12
    net = dp.Network.from_sizes(sizes, output="identity" if loss == "mse" else "softmax", loss=loss)
    history = net.fit(X, y, epochs=1, batch_size=3, optimizer=still())
    assert ("accuracy" in history.metrics) is logged
    assert ("accuracy" in net.evaluate(X, y)) is logged
