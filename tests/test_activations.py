"""Each activation's derivative against a finite difference of its own forward rule."""

import math
import sys

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import ELU, LeakyReLU, Softmax, activation_from_config

ELEMENTWISE = [name for name, cls in dp.ACTIVATIONS.items() if cls.elementwise]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_prime_matches_central_difference(name):
    activation = dp.get_activation(name)
    # Stay away from the kink at 0 that relu-like functions have.
    z = np.concatenate([np.linspace(-4, -0.05, 40), np.linspace(0.05, 4, 40)])[None, :]
    eps = 1e-6
    numeric = (activation.forward(z + eps) - activation.forward(z - eps)) / (2 * eps)
    analytic = activation.prime(z, activation.forward(z.copy()))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(dp.ACTIVATIONS))
def test_forward_keeps_float32_and_leaves_z_alone(name):
    activation = dp.get_activation(name)
    z = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    original = z.copy()
    a = activation.forward(z)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(z, original)
    assert activation.backward(np.ones_like(a), z, a).dtype == np.float32


@pytest.mark.parametrize("name", list(dp.ACTIVATIONS))
def test_forward_writes_into_out(name):
    activation = dp.get_activation(name)
    z = np.random.default_rng(1).normal(size=(3, 4))
    out = np.empty_like(z)
    result = activation.forward(z, out=out)
    assert result is out
    np.testing.assert_allclose(out, activation.forward(z))


def test_sigmoid_and_softmax_are_stable_for_huge_inputs():
    z = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(dp.get_activation("sigmoid").forward(z), [[0, 0.5, 1]])
        np.testing.assert_allclose(Softmax().forward(z), [[0, 0, 1]])
        assert np.isfinite(dp.get_activation("softplus").forward(z)).all()


def test_softmax_rows_are_distributions_and_backward_is_the_jacobian():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3, 4))
    a = Softmax().forward(z)
    np.testing.assert_allclose(a.sum(axis=1), 1)
    grad_a = rng.normal(size=(3, 4))
    expected = np.stack([(np.diag(row) - np.outer(row, row)) @ g for row, g in zip(a, grad_a)])
    np.testing.assert_allclose(Softmax().backward(grad_a.copy(), z, a), expected)


def test_known_values():
    z = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_allclose(dp.get_activation("relu").forward(z), [[0, 0, 2]])
    np.testing.assert_allclose(dp.get_activation("leaky_relu").forward(z), [[-0.01, 0, 2]])
    np.testing.assert_allclose(dp.get_activation("elu").forward(z), [[np.expm1(-1), 0, 2]])
    # GELU(1) = Φ(1) = 0.841344746...
    np.testing.assert_allclose(dp.get_activation("gelu").forward(np.array([[1.0]])), 0.8413447461)


def test_names_are_forgiving_and_errors_suggest():
    assert dp.get_activation("Leaky-ReLU").name == "leaky_relu"
    assert dp.get_activation("linear").name == "identity"
    with pytest.raises(dp.ValidationError, match="did you mean 'relu'"):
        dp.get_activation("rellu")
    with pytest.raises(dp.DeltapropTypeError) as raised:
        dp.get_activation(3)
    assert str(raised.value) == (
        "activation must be a name such as 'relu' or an Activation, got <class 'int'>"
    )


def test_gelu_is_exact_in_extended_precision_for_gradcheck():
    from deltaprop.activations import _erf_extended

    # erf to 21 digits (Abramowitz and Stegun, table 7.1, and higher-precision tables; 2.4, 2.6
    # and 3.4, on both sides of the switch from the series to erfc at 2.5, from mpmath at 30)
    known = {
        "0.5": "0.520499877813046537683",
        "1": "0.842700792949714869341",
        "2": "0.995322265018952734162",
        "2.4": "0.999311486103354921430",
        "2.6": "0.999763965583470650796",
        "3": "0.999977909503001414558",
        "3.4": "0.999998478006637137715",
    }
    x = np.array([np.longdouble(k) for k in known])
    exact = np.array([np.longdouble(v) for v in known.values()])
    tolerance = 1e-17 if np.finfo(np.longdouble).eps < 1e-18 else 1e-15
    assert np.abs(_erf_extended(x) - exact).max() < tolerance
    np.testing.assert_array_equal(_erf_extended(-x), -_erf_extended(x))


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), "0.1", True])
@pytest.mark.parametrize("name", ["leaky_relu", "elu"])
def test_alpha_must_be_a_finite_number(name, alpha):
    with pytest.raises(dp.ValidationError, match="alpha must be a finite number"):
        dp.ACTIVATIONS[name](alpha=alpha)


@pytest.mark.parametrize("activation", [LeakyReLU(alpha=0.2), ELU(alpha=0.5)], ids=repr)
def test_the_slope_at_zero_is_the_negative_sides_as_in_pytorch(activation):
    z = np.zeros((1, 1))
    np.testing.assert_array_equal(activation.forward(z), z)
    assert activation.prime(z, activation.forward(z))[0, 0] == activation.alpha


@pytest.mark.parametrize("activation", [LeakyReLU(alpha=0.2), ELU(alpha=0.5)], ids=repr)
def test_a_non_default_alpha_sets_the_negative_side(activation):
    z = np.array([[-1.0, 2.0]])
    if isinstance(activation, LeakyReLU):  # αz and α below 0
        forward, prime = [[-0.2, 2.0]], [[0.2, 1.0]]
    else:  # α(e^z - 1) and σ(z) + α = αe^z below 0
        forward, prime = [[0.5 * np.expm1(-1.0), 2.0]], [[0.5 * np.exp(-1.0), 1.0]]
    a = activation.forward(z)
    np.testing.assert_allclose(a, forward, rtol=1e-12)
    np.testing.assert_allclose(activation.prime(z, a), prime, rtol=1e-12)


def test_config_repr_and_equality_rebuild_an_activation():
    elu = ELU(alpha=0.5)
    assert elu.config() == {"alpha": 0.5} and repr(elu) == "ELU(alpha=0.5)"
    assert activation_from_config("elu", {"alpha": 0.5}) == elu != ELU()
    assert activation_from_config("relu", {}) == dp.get_activation("relu")
    assert repr(LeakyReLU()) == "LeakyReLU(alpha=0.01)"
    unknown = r"^unknown activation 'rellu' \(did you mean 'relu'"
    with pytest.raises(dp.ValidationError, match=unknown):
        activation_from_config("rellu", {})


def test_activation_from_config_knows_the_aliases_and_refuses_a_non_name():
    assert activation_from_config("linear", {}) == dp.get_activation("identity")
    with pytest.raises(dp.DeltapropTypeError) as raised:
        activation_from_config(3, {})
    assert str(raised.value) == (
        "activation must be a name such as 'relu' or an Activation, got <class 'int'>"
    )


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_prime_keeps_float32(name):
    activation = dp.get_activation(name)
    z = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    assert activation.prime(z, activation.forward(z)).dtype == np.float32


@pytest.mark.parametrize("z", [np.array(-0.5), np.array(0.5), np.linspace(-1, 1, 5)])
def test_relu_of_a_scalar_or_a_vector(z):
    np.testing.assert_array_equal(dp.get_activation("relu").forward(z), np.maximum(z, 0))


def test_relu_of_a_batch_of_matrices():
    z = np.random.default_rng(3).normal(size=(2, 3, 4))
    np.testing.assert_array_equal(dp.get_activation("relu").forward(z), np.maximum(z, 0))


def test_gelu_in_float64_is_exact_to_rounding():
    z = np.linspace(-6, 6, 241)[None, :]
    exact = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z[0]])
    np.testing.assert_allclose(dp.get_activation("gelu").forward(z)[0], exact, rtol=0, atol=2e-15)


def test_gelu_without_scipy_uses_the_standard_library(monkeypatch):
    gelu = dp.get_activation("gelu")
    z = np.linspace(-4, 4, 33)[None, :]
    extended = z.astype(np.longdouble)
    with_scipy = [gelu.forward(z), gelu.prime(z, gelu.forward(z)), gelu.forward(extended)]
    monkeypatch.setitem(sys.modules, "scipy.special", None)  # as if SciPy were not installed
    without = [gelu.forward(z), gelu.prime(z, gelu.forward(z)), gelu.forward(extended)]
    for ours, reference in zip(without, with_scipy):
        assert ours.dtype == reference.dtype
        np.testing.assert_allclose(ours, reference, rtol=1e-15, atol=1e-15)
