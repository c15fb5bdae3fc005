"""Every check at the API boundary raises a deltaprop error that says what and how to fix.

Bad constructor arguments (layers, networks, optimizers, schedules) are in test_errors.py.
"""

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
