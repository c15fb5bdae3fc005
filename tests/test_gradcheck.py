"""gradcheck passes a correct backward pass and catches a wrong one."""

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.activations import Tanh


def problem():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)


def test_correct_network_passes_and_report_reads_well():
    X, y = problem()
    net = dp.Network.from_sizes([4, 5, 3], hidden="tanh")
    report = dp.gradcheck(net, X, y)
    assert report.passed and report.max_error < 1e-8
    text = str(report)
    assert "PASS" in text and len(text.splitlines()) == 4


def test_a_wrong_derivative_is_caught():
    class WrongTanh(Tanh):
        def prime(self, z, a):
            return 1 - a  # should be 1 - a²

    X, y = problem()
    net = dp.Network([dp.Dense(4, 5, activation=WrongTanh()), dp.Dense(5, 3, "softmax")])
    report = dp.gradcheck(net, X, y)
    assert not report.passed
    assert report.layers[0].max_error > 1e-2
    assert report.layers[1].max_error < 1e-8  # the layer above is still right
    assert "FAIL" in str(report)


def test_float32_network_is_checked_in_higher_precision_and_left_unchanged():
    X, y = problem()
    net = dp.Network.from_sizes([4, 5, 3], hidden="sigmoid")
    before = [p.copy() for p in net.parameters()]
    assert dp.gradcheck(net, X, y).max_error < 1e-6
    for old, new in zip(before, net.parameters()):
        assert old.dtype == new.dtype == np.float32
        np.testing.assert_array_equal(old, new)


def test_sampling_limits_the_entries_checked():
    X = np.random.default_rng(1).normal(size=(3, 50))
    net = dp.Network.from_sizes([50, 40, 2])
    report = dp.gradcheck(net, X, [0, 1, 1], max_checks_per_layer=10)
    assert [layer.checked for layer in report.layers] == [20, 12]


@pytest.mark.skipif(
    np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
    reason="np.longdouble is plain float64 on this platform",
)
def test_vanishing_gradients_are_measured_in_extended_precision():
    # A deep chain of single sigmoid units: layer 1's gradients are around 1e-6 of the loss, so
    # float64 differences alone (noise about 1e-16/ε) would report errors near 1e-6.
    rng = np.random.default_rng(2)
    net = dp.Network.from_sizes([1, 1, 1, 1, 2], hidden="sigmoid", output="softmax",
                                loss="mse", dtype="float64", seed=2)  # fmt: skip
    for layer in net.layers:
        layer.bias = rng.normal(size=layer.n_out)
    report = dp.gradcheck(net, rng.normal(size=(5, 1)), rng.normal(size=(5, 2)))
    assert report.max_error < 1e-7, str(report)  # float64 differences gave 1.4e-5 here


def test_max_checks_must_be_positive():
    X, y = problem()
    net = dp.Network.from_sizes([4, 5, 3])
    for bad in (0, -1):
        with pytest.raises(dp.ValidationError, match="max_checks_per_layer must be a positive"):
            dp.gradcheck(net, X, y, max_checks_per_layer=bad)
        with pytest.raises(dp.ValidationError, match="max_checks must be a positive"):
            dp.explain(net, X[:1], y[:1], max_checks=bad)
