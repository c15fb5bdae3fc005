"""What a training run records: the per-epoch ``History`` and the ``Position`` it stands at.

The fit loop (``training.py``) fills both; checkpoints (``io.py``) save and restore them, so a
resumed run continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GRAD_NORM_EVERY = 10  # steps between samples of the per-layer gradient norms


@dataclass
class History:
    """What happened in each epoch of training.

    ``metrics`` maps ``"loss"``, ``"accuracy"``, ``"val_loss"``, ``"val_accuracy"``, ``"lr"``
    and ``"time"`` (seconds) to one value per epoch. ``grad_norms[e][l]`` is the mean L2 norm of
    ∂L/∂W^(l+1) in epoch e, sampled every ``GRAD_NORM_EVERY`` steps.
    """

    metrics: dict[str, list[float]] = field(default_factory=dict)
    grad_norms: list[list[float]] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return self.metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self.metrics

    def get(self, key: str, default=None):
        return self.metrics.get(key, default)

    @property
    def epochs(self) -> int:
        return len(self.metrics.get("loss", []))

    @property
    def loss(self) -> list[float]:
        return self.metrics.get("loss", [])

    @property
    def val_loss(self) -> list[float]:
        return self.metrics.get("val_loss", [])

    @property
    def accuracy(self) -> list[float]:
        return self.metrics.get("accuracy", [])

    @property
    def val_accuracy(self) -> list[float]:
        return self.metrics.get("val_accuracy", [])

    def append(self, logs: dict[str, float], grad_norms: list[float]) -> None:
        for key, value in logs.items():
            self.metrics.setdefault(key, []).append(float(value))
        self.grad_norms.append([float(n) for n in grad_norms])

    def to_dict(self) -> dict:
        return {"metrics": self.metrics, "grad_norms": self.grad_norms}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(
            {k: [float(v) for v in vs] for k, vs in data["metrics"].items()},
            [[float(n) for n in row] for row in data["grad_norms"]],
        )

    def _repr_html_(self) -> str:
        """Jupyter shows the training curves and the per-epoch table (``display.py``)."""
        from .display import history_html

        return history_html(self)


@dataclass
class Position:
    """Where training stands: the next epoch and step, and the running sums of that epoch.

    ``n_samples`` and ``batch_size`` are those the steps count in; ``stopped`` is set when a
    callback ended training early, so that resuming does not train on.
    """

    epoch: int = 0
    step: int = 0
    n_samples: int = 0
    batch_size: int = 0
    stopped: bool = False
    epoch_rng_state: dict | None = None
    loss_sum: float = 0.0
    correct: float = 0.0
    seen: int = 0
    grad_norm_sums: list[float] = field(default_factory=list)
    grad_norm_count: int = 0

    def to_dict(self) -> dict:
        return dict(vars(self))
