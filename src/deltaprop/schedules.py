"""Learning-rate schedules: the learning rate η as a function of the update step t = 0, 1, ...

An optimizer with ``lr=0.1, schedule=CosineDecay(1000)`` uses ``schedule(0.1, t)`` at its t-th
update. Steps count optimizer updates (mini-batches), not epochs: with 469 batches per epoch,
``StepDecay(step_size=469 * 5)`` divides η every five epochs.
"""

from __future__ import annotations

import math

from . import registry
from .errors import ValidationError
from .validation import check_positive


class Schedule:
    """Base class: ``schedule(base_lr, step)`` returns the learning rate for that step."""

    name = "schedule"

    def __call__(self, base_lr: float, step: int) -> float:
        raise NotImplementedError

    def config(self) -> dict:
        return dict(vars(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """η_t = η."""

    name = "constant"

    def __call__(self, base_lr, step):
        return base_lr


class StepDecay(Schedule):
    """η_t = η · γ^⌊t / step_size⌋: multiply by ``gamma`` every ``step_size`` steps."""

    name = "step"

    def __init__(self, step_size: int, gamma: float = 0.1):
        self.step_size = check_positive("step_size", step_size, integer=True)
        self.gamma = check_positive("gamma", gamma)

    def __call__(self, base_lr, step):
        return base_lr * self.gamma ** (step // self.step_size)


class ExponentialDecay(Schedule):
    """η_t = η · rate^(t / decay_steps)."""

    name = "exponential"

    def __init__(self, rate: float, decay_steps: int = 1):
        self.rate = check_positive("rate", rate)
        self.decay_steps = check_positive("decay_steps", decay_steps, integer=True)

    def __call__(self, base_lr, step):
        return base_lr * self.rate ** (step / self.decay_steps)


class CosineDecay(Schedule):
    """η_t = η_min + (η - η_min)(1 + cos(π min(t, T)/T))/2 over ``total_steps`` T."""

    name = "cosine"

    def __init__(self, total_steps: int, min_lr: float = 0.0):
        self.total_steps = check_positive("total_steps", total_steps, integer=True)
        if not (isinstance(min_lr, (int, float)) and min_lr >= 0):
            raise ValidationError(f"min_lr must be a number >= 0, got {min_lr!r}")
        self.min_lr = float(min_lr)

    def __call__(self, base_lr, step):
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class InverseScaling(Schedule):
    """η_t = η / (t + 1)^power (scikit-learn's "invscaling")."""

    name = "inverse_scaling"

    def __init__(self, power: float = 0.5):
        self.power = check_positive("power", power)

    def __call__(self, base_lr, step):
        return base_lr / (step + 1) ** self.power


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Constant, StepDecay, ExponentialDecay, CosineDecay, InverseScaling)
}


def get_schedule(schedule: str | Schedule | None, **config) -> Schedule:
    """Return a ``Schedule`` for ``None`` (constant), an instance, or a name plus its arguments."""
    return registry.get(
        "schedule", schedule, SCHEDULES, Schedule, config, example="cosine", default="constant"
    )
