"""The playground's sessions, configuration, messages, uploads and snippet, without a server."""

import json

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.errors import DataError, DivergenceError, ValidationError
from deltaprop.playground import messages
from deltaprop.playground.config import Config
from deltaprop.playground.datasets import DATASETS, make_dataset
from deltaprop.playground.session import Session
from deltaprop.playground.upload import MAX_BYTES, MAX_ROWS, parse_csv


def csv_text(rows=40, label=lambda i: i % 2):
    lines = ["a,b,c,label"] + [
        f"{i * 0.1:.2f},{(i % 7) - 3},{i % 3},{label(i)}" for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", DATASETS)
def test_every_data_set_is_reproducible_and_split_by_the_ratio(name):
    first = make_dataset(name, n_points=200, noise=0.2, train_ratio=0.7, seed=3)
    again = make_dataset(name, n_points=200, noise=0.2, train_ratio=0.7, seed=3)
    assert first.x_train.shape == (140, 2) and first.x_test.shape == (60, 2)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert np.isfinite(first.x_train).all()
    if first.is_classification:
        assert set(np.unique(first.y_train)) == {0, 1}


def test_config_refuses_unknown_fields_and_out_of_bounds_values():
    for bad, word in [
        ({"hidden": [4] * 7}, "at most 6"),
        ({"hidden": [9]}, "from 1 to 8"),
        ({"lr": 0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"activation": "softmax"}, "activation"),
        ({"features": []}, "features"),
        ({"features": ["x3"]}, "x3"),
        ({"colour": "red"}, "unknown config field"),
        ({"loss": "mse"}, "does not fit 'circle'"),
        ({"dropout": 0.95}, "dropout"),
        ({"seed": True}, "seed"),
    ]:
        with pytest.raises(ValidationError, match=word):
            Config.from_dict(bad)
    assert Config.from_dict({"features": ["x2", "x1"]}).features == ["x1", "x2"]


def test_messages_are_checked_field_by_field():
    assert messages.parse('{"type": "explain", "layer": 1, "unit": 2}') == (
        "explain",
        {"layer": 1, "unit": 2},
    )
    for raw, word in [
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"type": "rm -rf"}', "unknown message type"),
        ('{"type": "step", "extra": 1}', "unknown field"),
        ('{"type": "explain", "layer": 1}', "lacks the field"),
        ('{"type": "explain", "layer": 99, "unit": 1}', "layer"),
        ('{"type": "select", "x1": "1", "x2": 0}', "finite number"),
        ('{"type": "upload", "name": "a.csv", "text": 5}', "text"),
    ]:
        with pytest.raises(ValidationError, match=word):
            messages.parse(raw)
    with pytest.raises(ValidationError, match="too large"):
        messages.parse("x" * (messages.MAX_MESSAGE + 1))


def test_steps_epochs_and_play_give_the_weights_of_one_fit_call():
    """The playground's training is Network.fit's, so the exported snippet reproduces it."""
    session = Session(Config(n_points=120, batch_size=7, hidden=[3], seed=5))
    session.step()
    session.step()
    session.train_epoch()  # finishes epoch 1
    session.train_epoch()  # all of epoch 2
    session.train_for(0.0)  # one batch of epoch 3 ...
    session.train_epoch()  # ... and the rest
    assert session.epoch == 3 and session.position == 0
    namespace = {}
    code = session.snippet().replace("net.save('playground.safetensors')\n", "")
    exec(compile(code, "snippet", "exec"), namespace)  # the snippet the page offers
    for mine, theirs in zip(session.network.layers, namespace["net"].layers):
        np.testing.assert_array_equal(mine.weights, theirs.weights)
        np.testing.assert_array_equal(mine.bias, theirs.bias)


def test_a_step_moves_the_weights_by_minus_lr_times_network_gradients():
    session = Session(Config(n_points=100, batch_size=1000, lr=0.5, hidden=[3, 2]))
    before = session.network.copy()
    session.step()  # the batch is the whole training set
    _, gradients = before.gradients(session.x_train, session.data.y_train)
    for old, new, (grad_w, grad_b) in zip(before.layers, session.network.layers, gradients):
        np.testing.assert_allclose(new.weights, old.weights - 0.5 * grad_w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(new.bias, old.bias - 0.5 * grad_b, rtol=1e-5, atol=1e-6)


def test_unit_equations_carry_network_gradients_of_the_selected_sample():
    session = Session(Config(hidden=[3, 2], activation="relu"))
    session.train_epoch()
    x1, x2 = session.data.x_test[4]
    session.select(float(x1), float(x2))
    part, index, x, y = session.sample()
    assert (part, index) == ("test", 4)
    shown = session.explain_unit(1, 2)
    _, gradients = session.network.gradients(x[None, :], np.array([y]))
    analytic = [float(row["analytic"]) for row in shown["checks"]]
    np.testing.assert_allclose(analytic[:-1], gradients[0][0][1], rtol=1e-5)
    np.testing.assert_allclose(analytic[-1], gradients[0][1][1], rtol=1e-5)
    numeric = [float(row["numeric"]) for row in shown["checks"]]
    np.testing.assert_allclose(numeric, analytic, rtol=1e-3, atol=1e-9)
    assert shown["latex"][0].startswith("z^{1}_{2} = ")
    with pytest.raises(ValidationError, match="no unit 5 in layer 1"):
        session.explain_unit(1, 5)


def test_step_through_shows_every_phase_in_order_and_then_steps():
    session = Session(Config(hidden=[3, 2]))
    result = session.step_through()
    kinds = [(phase["kind"], phase["layer"]) for phase in result["phases"]]
    assert kinds == [
        ("forward", 1),
        ("forward", 2),
        ("forward", 3),
        ("loss", 3),
        ("backward", 3),
        ("backward", 2),
        ("backward", 1),
        ("update", 0),
    ]
    assert session.steps == 1 and result["note"] == ""
    json.dumps(result)  # what the server sends


def test_update_and_state_are_json_with_maps_of_the_right_size():
    session = Session(Config(hidden=[4, 2], dataset="spiral"))
    update, state = session.update(), session.state()
    json.dumps(update), json.dumps(state)
    assert [len(layer) for layer in update["unit_maps"]] == [4, 2]
    assert len(state["input_maps"]) == 2 and state["sizes"] == [2, 4, 2, 1]
    step, train_loss, _, train_accuracy, test_accuracy = state["curves"][-1]
    assert step == 0 and train_loss == update["loss_train"]
    assert 0 <= train_accuracy <= 1 and 0 <= test_accuracy <= 1


def test_divergence_stops_training_with_a_message_until_reset():
    session = Session(Config(dataset="plane", loss="mse", lr=10.0, hidden=[8, 8], batch_size=1))
    with pytest.raises(DivergenceError, match=r"Lower the learning rate.*press reset"):
        for _ in range(100):
            session.train_for(0.01)
    with pytest.raises(DivergenceError):
        session.step()
    session.configure({"lr": 0.01})
    session.reset()
    session.step()
    assert np.isfinite(session.last["loss_train"])


def test_a_refused_change_leaves_the_run_as_it_was():
    session = Session()
    session.step()
    with pytest.raises(ValidationError, match="needs an uploaded file"):
        session.configure({"dataset": "csv"})
    assert session.config.dataset == "circle" and session.steps == 1


def test_good_csv_becomes_the_data_and_bad_ones_say_what_is_wrong():
    session = Session()
    session.set_upload("three.csv", csv_text(label=lambda i: i % 3))
    assert session.config.dataset == "csv" and session.config.loss == "cross_entropy"
    assert session.network.sizes == [3, 4, 2, 3]  # x1, x2 of columns a, b, then column c
    session.configure({"shown": [1, 2]})
    assert session.inputs == ["x1", "x2", "a"]
    session.train_epoch()
    for text, word in [
        ("a,b,label\n" + "1,x,0\n" * 20, "column 'b' holds 'x', not a number"),
        ("a,b,label\n" + "1,2,0\n" * 9 + "1,nan,1\n" * 11, "row 11, column 'b' is nan"),
        ("a,b,label\n" + "1,2\n" * 20, "row 2 has 2 fields"),
        ("a,b,label\n" + "1,2,1\n" * 20, "one class only"),
        ("1,2,3\n" + "1,2,1\n" * 20, "no header row"),
        ("a,b,label\n1,2,1\n", "needs at least 10"),
        ("a,b,label\n" + "1,2,1\n" * (MAX_ROWS + 1), "at most 5,000"),
        ("a," * 20 + "label\n", "at most 16"),
        ("a,b,label\n" + "1,2,1\n" * (MAX_BYTES // 6 + 1), "up to 1,000,000 bytes"),
    ]:
        with pytest.raises(DataError, match=word):
            session.set_upload("bad.csv", text)
        assert session.upload[0] == "three.csv" and session.config.dataset == "csv"


def test_regression_csv_and_model_file_that_deltaprop_loads(tmp_path):
    session = Session()
    session.set_upload("r.csv", csv_text(label=lambda i: i * 0.37))
    assert session.config.loss == "mse" and not session.data.is_classification
    session.train_epoch()
    path = tmp_path / "m.safetensors"
    path.write_bytes(session.model_file())
    loaded = dp.load(path)
    np.testing.assert_allclose(
        loaded.predict(session.x_test), session.network.predict(session.x_test)
    )


def test_parse_csv_maps_labels_to_classes_in_sorted_order():
    data = parse_csv(csv_text(label=lambda i: [5, -1][i % 2]), train_ratio=0.5)
    assert data.class_names == ["-1", "5"] and data.n_classes == 2
    assert set(np.unique(np.concatenate([data.y_train, data.y_test]))) == {0, 1}


OVERFLOWING = Config(
    dataset="plane",
    loss="mse",
    optimizer="nesterov",
    lr=10.0,
    hidden=[8, 8, 8],
    activation="relu",
    batch_size=1,
    seed=1,
)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_update_that_overflows_the_weights_stops_training_and_the_page_still_updates():
    session = Session(OVERFLOWING)
    with pytest.raises(DivergenceError, match=r"infinity.*press reset"):
        for _ in range(3):
            session.step()
    assert session.diverged and "press reset" in session.message
    update = session.update()  # the maps of an unusable network, not an exception
    assert update["message"] == session.message
    with pytest.raises(DivergenceError, match="press reset"):
        session.step()
    session.reset()
    assert not session.diverged and np.isfinite(session.network.parameter_vector).all()


def test_a_second_upload_of_the_same_kind_replaces_the_data_and_starts_a_fresh_run():
    session = Session()
    session.set_upload("first.csv", csv_text(rows=40))
    session.step()
    session.set_upload("second.csv", csv_text(rows=60))
    assert session.upload[0] == "second.csv" and session.steps == 0
    assert len(session.x_train) + len(session.x_test) == 60
