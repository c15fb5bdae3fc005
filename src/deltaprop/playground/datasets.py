"""The playground's 2-D data sets, drawn from a seed: five to classify, two to regress.

Every set lives on the plane ``[-6, 6]²`` (the coordinates a user sees). ``noise`` in [0, 0.5]
jitters the points (classification) or the targets (regression) as a fraction of the plane's
half-width, so that 0.5 makes the classes overlap heavily. The same name, size, noise, ratio and
seed always give the same arrays (``make_dataset`` is what the exported Python snippet calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ValidationError

RADIUS = 6.0  # the plane is [-RADIUS, RADIUS]²

CLASSIFICATION = ("circle", "xor", "gaussians", "spiral", "moons")
REGRESSION = ("plane", "multi_gaussian")
DATASETS = CLASSIFICATION + REGRESSION


@dataclass
class Dataset:
    """Points and labels (or targets), split into a training and a test part.

    ``x_train`` ``(N_train, d)`` and ``x_test`` ``(N_test, d)`` hold the raw columns (d = 2 for
    the generated sets, more for an upload); ``y_*`` are class labels ``(N,)`` (int64, 0..k-1)
    or regression targets ``(N,)`` (float64). ``shown`` names the two columns drawn as the
    plane's x1 and x2; ``bounds`` is ``(x1_min, x1_max, x2_min, x2_max)`` of that view.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    columns: list[str]
    n_classes: int  # 0 for regression
    shown: tuple[int, int] = (0, 1)
    bounds: tuple[float, float, float, float] = (-RADIUS, RADIUS, -RADIUS, RADIUS)
    class_names: list[str] | None = None

    @property
    def is_classification(self) -> bool:
        return self.n_classes > 0

    @property
    def n_columns(self) -> int:
        return self.x_train.shape[1]


def make_dataset(
    name: str, n_points: int = 500, noise: float = 0.0, train_ratio: float = 0.5, seed: int = 0
) -> Dataset:
    """Draw ``n_points`` of the set ``name`` and split them ``train_ratio`` : rest at random."""
    if name not in DATASETS:
        raise ValidationError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    rng = np.random.default_rng(seed)
    points, labels = _GENERATORS[name](rng, n_points, noise)
    order = rng.permutation(n_points)
    n_train = min(max(round(n_points * train_ratio), 1), n_points - 1)
    train, test = order[:n_train], order[n_train:]
    return Dataset(
        name=name,
        x_train=points[train],
        y_train=labels[train],
        x_test=points[test],
        y_test=labels[test],
        columns=["x1", "x2"],
        n_classes=2 if name in CLASSIFICATION else 0,
    )


def _jitter(rng: np.random.Generator, points: np.ndarray, noise: float) -> np.ndarray:
    return points + rng.normal(0.0, noise * RADIUS / 2, size=points.shape)


def _halves(n: int) -> np.ndarray:
    """Labels ``(n,)``: the first half 0, the rest 1."""
    return (np.arange(n) >= n // 2).astype(np.int64)


def _circle(rng, n, noise):
    """Class 1 inside radius 2, class 0 on a ring from 3.5 to 5."""
    labels = _halves(n)
    radius = np.where(labels == 1, rng.uniform(0, 2, n), rng.uniform(3.5, 5, n))
    angle = rng.uniform(0, 2 * np.pi, n)
    points = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return _jitter(rng, points, noise), labels


def _xor(rng, n, noise):
    """Class 1 where x1 and x2 have the same sign; points keep a small margin off the axes."""
    points = rng.uniform(0.3, 5, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    return _jitter(rng, points, noise), labels


def _gaussians(rng, n, noise):
    """Two round clusters at (2, 2) and (-2, -2); noise widens them."""
    labels = _halves(n)
    centres = np.where(labels[:, None] == 1, 2.0, -2.0)
    points = centres + rng.normal(0, 0.8 + 2 * noise, (n, 2))
    return points, labels


def _spiral(rng, n, noise):
    """Two interleaved arms, each turning 1.75 times around the origin."""
    labels = _halves(n)
    t = rng.uniform(0, 1, n)
    radius = 5 * t + 0.3
    angle = 1.75 * 2 * np.pi * t + np.pi * labels
    points = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return _jitter(rng, points, noise), labels


def _moons(rng, n, noise):
    """Two interlocking half circles (scikit-learn's moons, scaled to the plane)."""
    labels = _halves(n)
    angle = rng.uniform(0, np.pi, n)
    upper = np.column_stack([np.cos(angle), np.sin(angle)])
    lower = np.column_stack([1 - np.cos(angle), 0.5 - np.sin(angle)])
    points = np.where(labels[:, None] == 0, upper, lower)
    points = (points - [0.5, 0.25]) * 3.2
    return _jitter(rng, points, noise), labels


def _plane(rng, n, noise):
    """Target (x1 + x2) / 12, a tilted plane with values in [-1, 1]."""
    points = rng.uniform(-RADIUS, RADIUS, (n, 2))
    targets = points.sum(axis=1) / (2 * RADIUS)
    return points, targets + rng.normal(0, noise, n)


BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]]
)


def _multi_gaussian(rng, n, noise):
    """Target: six Gaussian bumps of height ±1 on a 3 × 2 grid."""
    points = rng.uniform(-RADIUS, RADIUS, (n, 2))
    distances = ((points[:, None, :] - BUMPS[None, :, :2]) ** 2).sum(axis=2)
    targets = (BUMPS[:, 2] * np.exp(-distances / 3)).sum(axis=1)
    return points, targets + rng.normal(0, noise, n)


_GENERATORS = {
    "circle": _circle,
    "xor": _xor,
    "gaussians": _gaussians,
    "spiral": _spiral,
    "moons": _moons,
    "plane": _plane,
    "multi_gaussian": _multi_gaussian,
}
