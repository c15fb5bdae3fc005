"""A session's configuration, and the bounds every value must lie in.

``Config.from_dict`` is the one way a configuration enters a session (from a WebSocket message
or the page's URL): each field is type-checked and bounded, unknown fields are refused, and the
error names the field and the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from ..activations import ACTIVATIONS
from ..errors import ValidationError
from .datasets import CLASSIFICATION, DATASETS
from .features import FEATURES

MAX_LAYERS = 6
MAX_UNITS = 8
MAX_SEED = 2**31 - 1
HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "softmax")
CLASSIFICATION_LOSSES = ("binary_cross_entropy", "cross_entropy")
REGRESSION_LOSSES = ("mse", "mae", "huber")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")


@dataclass
class Config:
    """Everything that defines a run (the URL carries it; the snippet reproduces it)."""

    dataset: str = "circle"  # a name from datasets.DATASETS, or "csv" for an upload
    n_points: int = 500
    noise: float = 0.0
    train_ratio: float = 0.5
    data_seed: int = 0
    features: list[str] = field(default_factory=lambda: ["x1", "x2"])
    shown: list[int] = field(default_factory=lambda: [0, 1])  # uploaded columns on the plane
    hidden: list[int] = field(default_factory=lambda: [4, 2])
    activation: str = "tanh"
    loss: str = "binary_cross_entropy"
    optimizer: str = "sgd"
    lr: float = 0.03
    batch_size: int = 10
    l2: float = 0.0
    dropout: float = 0.0
    seed: int = 0

    @classmethod
    def from_dict(cls, data: object, base: Config | None = None) -> Config:
        """Validate ``data`` (a dict of some fields) and return ``base`` updated with it."""
        if not isinstance(data, dict):
            raise ValidationError(f"config must be an object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValidationError(f"unknown config field {unknown[0]!r}")
        values = asdict(base or cls())
        for name, value in data.items():
            values[name] = _CHECKS[name](name, value)
        config = cls(**values)
        config._check_combination()
        return config

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def is_classification(self) -> bool:
        return self.loss in CLASSIFICATION_LOSSES

    def _check_combination(self) -> None:
        if self.dataset in DATASETS and (self.dataset in CLASSIFICATION) != self.is_classification:
            kind = "classification" if self.dataset in CLASSIFICATION else "regression"
            losses = CLASSIFICATION_LOSSES if kind == "classification" else REGRESSION_LOSSES
            raise ValidationError(
                f"loss {self.loss!r} does not fit {self.dataset!r}, a {kind} set: "
                f"choose one of {', '.join(losses)}"
            )
        if self.shown[0] == self.shown[1]:
            raise ValidationError("shown must name two different columns")


def _integer(low: int, high: int):
    def check(name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(
                f"{name} must be a whole number from {low} to {high}, got {value!r}"
            )
        return value

    return check


def _number(low: float, high: float, low_open: bool = False):
    def check(name: str, value: object) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ValidationError(f"{name} must be a number, got {value!r}")
        if not (low < value if low_open else low <= value) or value > high:
            bracket = "(" if low_open else "["
            raise ValidationError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value!r}")
        return float(value)

    return check


def _choice(options: tuple[str, ...]):
    def check(name: str, value: object) -> str:
        if value not in options:
            raise ValidationError(f"{name} must be one of {', '.join(options)}, got {value!r}")
        return value

    return check


def _features(name: str, value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{name} must be a non-empty list of {', '.join(FEATURES)}")
    for item in value:
        if item not in FEATURES:
            raise ValidationError(f"unknown feature {item!r}; choose from {', '.join(FEATURES)}")
    if len(set(value)) != len(value):
        raise ValidationError(f"{name} lists a feature twice")
    return [item for item in FEATURES if item in value]  # the canonical order


def _hidden(name: str, value: object) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_LAYERS:
        raise ValidationError(f"{name} must be a list of at most {MAX_LAYERS} layer sizes")
    return [_integer(1, MAX_UNITS)(f"{name} layer size", units) for units in value]


def _shown(name: str, value: object) -> list[int]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValidationError(f"{name} must be a list of two column numbers")
    return [_integer(0, 14)(f"{name} column", column) for column in value]


_CHECKS = {
    "dataset": _choice((*DATASETS, "csv")),
    "n_points": _integer(50, 2000),
    "noise": _number(0, 0.5),
    "train_ratio": _number(0.1, 0.9),
    "data_seed": _integer(0, MAX_SEED),
    "features": _features,
    "shown": _shown,
    "hidden": _hidden,
    "activation": _choice(HIDDEN_ACTIVATIONS),
    "loss": _choice(CLASSIFICATION_LOSSES + REGRESSION_LOSSES),
    "optimizer": _choice(OPTIMIZERS),
    "lr": _number(0, 10, low_open=True),
    "batch_size": _integer(1, 1000),
    "l2": _number(0, 1),
    "dropout": _number(0, 0.9),
    "seed": _integer(0, MAX_SEED),
}
