"""What the network and each of its units compute over the plane, as small heat maps.

A grid of points covers the plane the page shows; the inputs there come from ``features.py``
(an upload's other columns held at their training mean). The output map is ``Network.forward``
on the grid; hidden layer l's map is its a^l from one forward pass of the same engine, so every
number is the library's own. Maps travel as bytes: each value mapped to 0..255 between the map's
``low`` and ``high``.
"""

from __future__ import annotations

import base64

import numpy as np

from ..network import Network
from ..validation import check_inputs
from .datasets import Dataset
from .features import input_features

OUTPUT_GRID = 48  # points per side of the output map
UNIT_GRID = 20  # of each unit's map


def plane_inputs(data: Dataset, features: list[str], size: int) -> np.ndarray:
    """Network inputs ``(size², n_in)`` on a ``size × size`` grid, row 0 at the top (high x2)."""
    x1_min, x1_max, x2_min, x2_max = data.bounds
    x1 = np.linspace(x1_min, x1_max, size)
    x2 = np.linspace(x2_max, x2_min, size)
    grid_x1, grid_x2 = np.meshgrid(x1, x2)
    points = np.tile(data.x_train.mean(axis=0), (size * size, 1))
    points[:, data.shown[0]] = grid_x1.ravel()
    points[:, data.shown[1]] = grid_x2.ravel()
    return input_features(points, features, data.shown)


def unit_outputs(network: Network, inputs: np.ndarray) -> list[np.ndarray]:
    """a^l for every hidden layer l on ``inputs (M, n_in)``: one ``(M, n_l)`` array per layer.

    One forward pass of the network's own engine (no dropout) gives every layer's a^l.
    """
    X = check_inputs(inputs, network.n_in, network.dtype)
    # a diverged network's NaN weights still give maps: encode shows them as 0
    with np.errstate(over="ignore", invalid="ignore"):
        cache = network.passes.forward(X)
    return [np.array(a) for a in cache.activations[:-1]]


def encode(values: np.ndarray, low: float | None = None, high: float | None = None) -> dict:
    """``values`` as base64 bytes between ``low`` and ``high`` (by default symmetric about 0)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if low is None or high is None:
        high = float(np.abs(values).max()) or 1.0
        low = -high
    scaled = np.clip((values - low) / ((high - low) or 1.0), 0, 1) * 255
    data = base64.b64encode(np.round(scaled).astype(np.uint8).tobytes()).decode("ascii")
    return {"low": low, "high": high, "data": data}
