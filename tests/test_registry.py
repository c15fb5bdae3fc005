"""Looking parts up by name: the one rule activations, losses, optimizers and schedules share."""

import pytest

import deltaprop as dp
from deltaprop.schedules import get_schedule

# (getter, a known name, how a user might spell it, the kind the messages name, a typo)
GETTERS = [
    (dp.get_activation, "leaky_relu", "Leaky-ReLU", "activation", "leaky_rellu"),
    (dp.get_loss, "cross_entropy", "Cross-Entropy", "loss", "cross_entrpy"),
    (dp.get_optimizer, "rmsprop", "RMSprop", "optimizer", "rmsprp"),
    (get_schedule, "inverse_scaling", "Inverse-Scaling", "schedule", "inverse_scalin"),
]


@pytest.mark.parametrize(("get", "name", "spelling", "kind", "typo"), GETTERS)
def test_any_case_and_hyphens_name_the_same_part(get, name, spelling, kind, typo):
    part = get(spelling)
    assert part.name == name
    assert get(part) is part  # a ready part is returned as it is


@pytest.mark.parametrize(("get", "name", "spelling", "kind", "typo"), GETTERS)
def test_a_typo_gets_the_closest_name_and_the_list(get, name, spelling, kind, typo):
    with pytest.raises(dp.ValidationError, match=f"unknown {kind} '{typo}'") as caught:
        get(typo)
    assert f"did you mean '{name}'?" in str(caught.value)
    assert "choose one of" in str(caught.value) and name in str(caught.value)


@pytest.mark.parametrize(("get", "name", "spelling", "kind", "typo"), GETTERS)
def test_a_value_that_is_no_name_says_what_is_expected(get, name, spelling, kind, typo):
    with pytest.raises(dp.DeltapropTypeError, match=f"{kind} must be a name such as"):
        get(3)


def test_none_and_aliases():
    assert dp.get_activation(None).name == "identity"
    assert dp.get_activation("linear").name == "identity"
    assert get_schedule(None).name == "constant"
    assert dp.get_optimizer(None).name == "sgd"
    assert dp.get_loss("BCE").name == "binary_cross_entropy"
    nesterov = dp.get_optimizer("nesterov", lr=0.5)
    assert (nesterov.name, nesterov.momentum, nesterov.nesterov) == ("sgd", 0.9, True)
    with pytest.raises(dp.DeltapropTypeError, match="loss must be a name"):
        dp.get_loss(None)  # a network has no default loss to fall back on


def test_arguments_are_checked_against_the_named_class():
    assert get_schedule("step", step_size=10).step_size == 10
    with pytest.raises(TypeError, match=r"schedule 'step'.*accepts"):
        get_schedule("step", size=10)
    with pytest.raises(dp.ValidationError, match="momentum, nesterov"):
        dp.get_optimizer("adma")
