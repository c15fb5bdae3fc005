"""The fit loop: convergence, determinism, validation, callbacks, history, divergence."""

import math
import time

import numpy as np
import pytest

import deltaprop as dp

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
