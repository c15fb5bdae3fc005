"""Each learning-rate schedule's values."""

import math

import pytest

import deltaprop as dp
from deltaprop.schedules import get_schedule


def test_constant():
    assert [dp.Constant()(0.1, t) for t in (0, 10, 1000)] == [0.1, 0.1, 0.1]


def test_step_decay():
    schedule = dp.StepDecay(step_size=10, gamma=0.5)
    assert [schedule(1.0, t) for t in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]


def test_exponential_decay():
    schedule = dp.ExponentialDecay(rate=0.5, decay_steps=2)
    assert schedule(1.0, 2) == pytest.approx(0.5)
    assert schedule(1.0, 1) == pytest.approx(math.sqrt(0.5))


def test_cosine_decay_ends_at_min_lr():
    schedule = dp.CosineDecay(total_steps=100, min_lr=0.01)
    assert schedule(1.0, 0) == pytest.approx(1.0)
    assert schedule(1.0, 50) == pytest.approx(0.505)
    assert schedule(1.0, 100) == pytest.approx(0.01)
    # Past T the rate stays at min_lr: at 1.5·T an unclamped cosine would be back at 0.505.
    assert schedule(1.0, 150) == pytest.approx(0.01)
    assert schedule(1.0, 500) == pytest.approx(0.01)


def test_inverse_scaling():
    schedule = dp.InverseScaling(power=0.5)
    assert schedule(1.0, 3) == pytest.approx(0.5)


def test_by_name_and_errors():
    assert isinstance(get_schedule("cosine", total_steps=5), dp.CosineDecay)
    with pytest.raises(dp.ValidationError, match="did you mean 'cosine'"):
        get_schedule("cosin")
    with pytest.raises(dp.ValidationError, match="step_size must be a positive integer"):
        dp.StepDecay(step_size=0)


def test_defaults():
    assert dp.StepDecay(step_size=10)(1.0, 10) == pytest.approx(0.1)  # gamma 0.1
    assert dp.ExponentialDecay(rate=0.5)(1.0, 1) == pytest.approx(0.5)  # decay_steps 1
    assert dp.CosineDecay(total_steps=10)(1.0, 10) == 0.0  # min_lr 0
    assert dp.InverseScaling()(1.0, 3) == pytest.approx(0.5)  # power 0.5


def test_repr_and_config_show_the_arguments():
    schedule = dp.CosineDecay(total_steps=100, min_lr=0.01)
    assert repr(schedule) == "CosineDecay(total_steps=100, min_lr=0.01)"
    assert schedule.config() == {"total_steps": 100, "min_lr": 0.01}
    assert repr(dp.Constant()) == "Constant()"
