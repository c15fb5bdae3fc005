"""Every check at the API boundary raises a deltaprop error that says what and how to fix."""

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.validation import parse_sizes


@pytest.fixture
def net():
    return dp.Network.from_sizes([4, 5, 3], seed=0)


X4 = np.ones((6, 4))
Y = np.array([0, 1, 2, 0, 1, 2])

CASES = [
    # (call, error type, words the message must contain)
    (lambda n: n.forward(np.ones(4)), dp.ValidationError, "X.reshape(1, -1)"),
    (lambda n: n.forward(np.ones((2, 3))), dp.ValidationError, "3 features per row"),
    (lambda n: n.forward(np.ones((2, 2, 2))), dp.ValidationError, "flatten each sample"),
    (lambda n: n.forward(np.ones((0, 4))), dp.ValidationError, "X is empty"),
    (lambda n: n.forward([[1, 2, np.nan, 4]]), dp.ValidationError, "NaN or infinite"),
    (lambda n: n.forward([["a", "b", "c", "d"]]), dp.DeltapropTypeError, "must be numeric"),
    (lambda n: n.gradients(X4, Y[:5]), dp.ValidationError, "X has 6 samples but y has 5"),
    (lambda n: n.gradients(X4, Y + 1), dp.ValidationError, "labels 1..3"),
    (lambda n: n.gradients(X4, Y + 1), dp.ValidationError, "subtract 1"),
    (lambda n: n.gradients(X4, Y * 5), dp.ValidationError, "must be 0..2"),
    (lambda n: n.gradients(X4, Y + 0.5), dp.ValidationError, "non-integer"),
    (lambda n: n.gradients(X4, np.eye(4)[[0] * 6]), dp.ValidationError, "4 columns"),
    (lambda n: n.gradients(X4, np.full((6, 3), np.nan)), dp.ValidationError, "y contains NaN"),
    (lambda n: n.fit(X4, Y, epochs=0), dp.ValidationError, "epochs must be a positive integer"),
    (lambda n: n.fit(X4, Y, batch_size=0), dp.ValidationError, "batch_size must be"),
    (lambda n: n.fit(X4, Y, validation_split=1.5), dp.ValidationError, "validation_split"),
    (lambda n: n.fit(X4, Y, verbose=7), dp.ValidationError, "verbose must be 0, 1 or 2"),
    (lambda n: n.fit(X4, Y, optimizer="adamm"), dp.ValidationError, "did you mean 'adam'"),
    (lambda n: n.fit(X4, Y, validation_data=X4), dp.ValidationError, "pair (X_val, y_val)"),
    (lambda n: setattr(n.layers[0], "weights", np.ones((4, 5))), dp.ValidationError, "(5, 4)"),
    (lambda n: setattr(n.layers[0], "bias", [np.inf] * 5), dp.ValidationError, "NaN or inf"),
]


@pytest.mark.parametrize(("call", "error", "words"), CASES)
def test_bad_calls_raise_clear_errors(net, call, error, words):
    with pytest.raises(error) as info:
        call(net)
    assert words in str(info.value)
    assert isinstance(info.value, dp.DeltapropError)
    assert "\n" not in str(info.value)


CONSTRUCTION = [
    (lambda: dp.Dense(0, 3), "n_in must be a positive integer"),
    (lambda: dp.Dense(3, 2, activation="sigmod"), "did you mean 'sigmoid'"),
    (lambda: dp.Dense(3, 2, init="he"), "unknown init"),
    (lambda: dp.Dense(3, 2, dropout=1.0), "dropout must be in [0, 1)"),
    (lambda: dp.Network([]), "at least one Dense layer"),
    (lambda: dp.Network([dp.Dense(3, 4), dp.Dense(5, 2)]), "layers[1] has n_in=5"),
    (lambda: dp.Network.from_sizes([3, 2], loss="cross_entropyy"), "did you mean"),
    (lambda: dp.Network.from_sizes([3, 2], output="sigmoid"), "needs a softmax output"),
    (lambda: dp.Network.from_sizes([3, 2], dtype="float16"), "'float32' or 'float64'"),
    (lambda: dp.Network.from_sizes([3, 2], seed=-1), "seed must be a non-negative integer"),
    (lambda: dp.Network.from_sizes([3]), "at least an input and an output size"),
    (lambda: dp.Network([dp.Dense(3, 2, activation="softmax", dropout=0.5)]), "output layer"),
    (lambda: dp.Network(["dense"]), "must be a deltaprop.Dense"),
    (lambda: dp.SGD(lr=float("nan")), "lr must be a finite number > 0"),
    (lambda: dp.SGD(momentum=1.5), "momentum must be a number in [0, 1)"),
    (lambda: dp.Adam(beta1=1.0), "beta1 must be a number in [0, 1)"),
    (lambda: dp.SGD(weight_decay=-1), "weight_decay must be a number >= 0"),
]


@pytest.mark.parametrize(("call", "words"), CONSTRUCTION)
def test_bad_construction_raises_clear_errors(call, words):
    with pytest.raises(dp.DeltapropError) as info:
        call()
    assert words in str(info.value)
    assert isinstance(info.value, (ValueError, TypeError))


def test_reusing_a_layer_object_is_refused():
    layer = dp.Dense(3, 3)
    with pytest.raises(dp.ValidationError, match="appears twice"):
        dp.Network([layer, layer], loss="mse")


@pytest.mark.parametrize(
    ("text", "at_least", "sizes"),
    [("256,128", 0, [256, 128]), (" 256, 128, ", 1, [256, 128]), (64, 1, [64]), ("", 0, [])],
)
def test_parse_sizes_reads_layer_sizes_as_every_command_writes_them(text, at_least, sizes):
    assert parse_sizes(text, at_least) == sizes


@pytest.mark.parametrize(
    ("text", "at_least", "words"),
    [
        ("256,x", 0, "positive integers separated by commas"),
        ("8,0", 0, "got '8,0'"),
        ("-4", 0, "positive integers"),
        ("", 1, "got ''"),
        ("5", 2, "at least 2 positive integers"),
    ],
)
def test_parse_sizes_refuses_what_is_no_list_of_sizes(text, at_least, words):
    with pytest.raises(dp.ValidationError, match=words):
        parse_sizes(text, at_least)
