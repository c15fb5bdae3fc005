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
    assert isinstance(get_schedule(None), dp.Constant)
    with pytest.raises(dp.ValidationError, match=r"^unknown schedule 'cosin' \(did you mean"):
        get_schedule("cosin")
    with pytest.raises(dp.DeltapropTypeError) as raised:
        get_schedule(3)
    assert str(raised.value) == (
        "schedule must be a name such as 'cosine' or a Schedule, got <class 'int'>"
    )


# Each argument's error names it exactly, says what it must be and shows the value.
BAD_ARGUMENTS = [
    (lambda: dp.StepDecay(step_size=2.5), "step_size must be a positive integer, got 2.5"),
    (lambda: dp.StepDecay(10, gamma=0), "gamma must be a finite number > 0, got 0"),
    (lambda: dp.ExponentialDecay(rate=-1), "rate must be a finite number > 0, got -1"),
    (lambda: dp.ExponentialDecay(0.5, decay_steps=1.5), "decay_steps must be a positive integer, got 1.5"),  # noqa: E501
    (lambda: dp.CosineDecay(total_steps=1.5), "total_steps must be a positive integer, got 1.5"),
    (lambda: dp.CosineDecay(10, min_lr=-0.1), "min_lr must be a number >= 0, got -0.1"),
    (lambda: dp.CosineDecay(10, min_lr="0"), "min_lr must be a number >= 0, got '0'"),
    (lambda: dp.InverseScaling(power=0), "power must be a finite number > 0, got 0"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "message"), BAD_ARGUMENTS, ids=[m for _, m in BAD_ARGUMENTS])
def test_a_bad_argument_is_named_in_its_error(make, message):
    with pytest.raises(dp.ValidationError) as raised:
        make()
    assert str(raised.value) == message


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
