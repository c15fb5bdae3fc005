"""Dense layers: W^l of shape (n_out, n_in), the initializers' distributions, set parameters."""

import math

import numpy as np
import pytest

import deltaprop as dp


def built(layer: dp.Dense, dtype: str = "float64", seed: int = 0) -> dp.Dense:
    """``layer`` once a network has built it (a one-layer regressor)."""
    dp.Network([layer], loss="mse", dtype=dtype, seed=seed)
    return layer


# (init, distribution, its scale for n_in=400, n_out=200: the bound r of U(-r, r) or the σ of N)
INITIALIZERS = [
    ("glorot_uniform", "uniform", math.sqrt(6 / 600)),
    ("xavier_uniform", "uniform", math.sqrt(6 / 600)),
    ("glorot_normal", "normal", math.sqrt(2 / 600)),
    ("xavier_normal", "normal", math.sqrt(2 / 600)),
    ("he_uniform", "uniform", math.sqrt(6 / 400)),
    ("he_normal", "normal", math.sqrt(2 / 400)),
]


@pytest.mark.parametrize(("init", "distribution", "scale"), INITIALIZERS)
def test_initializers_draw_their_distribution(init, distribution, scale):
    layer = built(dp.Dense(400, 200, init=init))
    weights = layer.weights
    assert weights.shape == (200, 400) and abs(weights.mean()) < 0.01 * scale
    if distribution == "uniform":  # 80,000 draws of U(-r, r) reach r within 0.1%
        assert 0.999 * scale < np.abs(weights).max() <= scale
        assert weights.std() == pytest.approx(scale / math.sqrt(3), rel=0.02)
    else:  # N(0, σ²): σ, and tails a uniform never has
        assert weights.std() == pytest.approx(scale, rel=0.02)
        assert np.abs(weights).max() > 3.5 * scale
    np.testing.assert_array_equal(layer.bias, np.zeros(200))


def test_xavier_names_are_the_glorot_initializers():
    for xavier, glorot in [
        ("xavier_uniform", "glorot_uniform"),
        ("xavier_normal", "glorot_normal"),
    ]:
        a, b = built(dp.Dense(5, 4, init=xavier)), built(dp.Dense(5, 4, init=glorot))
        np.testing.assert_array_equal(a.weights, b.weights)


@pytest.mark.parametrize(
    ("activation", "init"),
    [
        *[(name, "he_normal") for name in ("relu", "leaky_relu", "elu", "gelu")],
        *[(name, "glorot_uniform") for name in ("tanh", "sigmoid", "identity", "softplus")],
    ],
)
def test_the_default_initializer_follows_the_activation(activation, init):
    assert dp.Dense(3, 2, activation=activation).init == init


def test_parameters_set_before_the_network_is_built_are_kept_in_its_dtype():
    layer = dp.Dense(3, 2)
    assert layer.weights is None and layer.bias is None and layer.dtype is None
    layer.weights = [[1, 2, 3], [4, 5, 6]]  # integers: stored as float32 until built
    layer.bias = [7, 8]
    assert layer.weights.dtype == np.float32 and layer.dtype == np.float32
    built(layer, dtype="float64")
    assert layer.dtype == np.float64 and layer.bias.dtype == np.float64
    np.testing.assert_array_equal(layer.weights, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(layer.bias, [7, 8])


def test_set_parameters_are_fresh_c_contiguous_copies_in_the_layers_dtype():
    layer = built(dp.Dense(3, 2), dtype="float64")
    source = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    layer.weights = source
    source[0, 0] = 99
    assert layer.weights.dtype == np.float64 and layer.weights.flags.c_contiguous
    assert layer.weights[0, 0] == 0


@pytest.mark.parametrize("value", [[["a", "b", "c"], ["d", "e", "f"]], [[1, 2, 3], [4, 5]]])
def test_non_numeric_weights_are_a_type_error(value):
    with pytest.raises(dp.DeltapropTypeError, match="weights must be a numeric array"):
        dp.Dense(3, 2).weights = value


@pytest.mark.parametrize("dropout", [-0.1, 1.0, "0.5", None])
def test_dropout_must_be_a_probability_below_1(dropout):
    with pytest.raises(dp.ValidationError, match=r"dropout must be in \[0, 1\)"):
        dp.Dense(3, 2, dropout=dropout)


def test_config_and_repr():
    layer = dp.Dense(3, 2, activation="leaky_relu", init="he_uniform", dropout=0.25)
    assert layer.config() == {
        "n_in": 3,
        "n_out": 2,
        "activation": "leaky_relu",
        "activation_config": {"alpha": 0.01},
        "init": "he_uniform",
        "dropout": 0.25,
    }
    assert repr(layer) == "Dense(3, 2, activation='leaky_relu', dropout=0.25)"
    assert repr(dp.Dense(3, 2, dropout=0)) == "Dense(3, 2, activation='relu')"


@pytest.mark.parametrize("sizes, name", [((0, 3), "n_in"), ((3, 2.5), "n_out")])
def test_a_bad_layer_size_is_refused_by_its_name(sizes, name):
    with pytest.raises(dp.ValidationError, match=rf"^{name} must be a positive integer, got "):
        dp.Dense(*sizes)
