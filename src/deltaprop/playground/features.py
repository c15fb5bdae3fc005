"""The network's inputs, computed from the two columns shown on the plane.

The user picks any of x1, x2, x1², x2², x1·x2, sin x1, sin x2 (TensorFlow Playground's seven),
where x1 and x2 are the two shown columns; an uploaded file's other columns follow unchanged.
This is data preparation, the same in the page, the model file's inputs and the Python snippet.
"""

from __future__ import annotations

import numpy as np

FEATURES: dict[str, str] = {  # name -> label in the page (TeX)
    "x1": "x_1",
    "x2": "x_2",
    "x1^2": "x_1^2",
    "x2^2": "x_2^2",
    "x1*x2": "x_1 x_2",
    "sin(x1)": r"\sin x_1",
    "sin(x2)": r"\sin x_2",
}


def input_features(
    x: np.ndarray, features: list[str], shown: tuple[int, int] = (0, 1)
) -> np.ndarray:
    """Return the network's inputs ``(N, len(features) + d - 2)`` for raw columns ``x (N, d)``.

    ``features`` is a list of names from ``FEATURES``, in the order the network sees them.
    """
    x1, x2 = x[:, shown[0]], x[:, shown[1]]
    columns = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1^2": lambda: x1**2,
        "x2^2": lambda: x2**2,
        "x1*x2": lambda: x1 * x2,
        "sin(x1)": lambda: np.sin(x1),
        "sin(x2)": lambda: np.sin(x2),
    }
    rest = [x[:, index] for index in range(x.shape[1]) if index not in shown]
    return np.column_stack([columns[name]() for name in features] + rest)


def input_names(features: list[str], columns: list[str], shown: tuple[int, int]) -> list[str]:
    """One name per input column of ``input_features``, with the uploaded columns' own names."""
    rest = [name for index, name in enumerate(columns) if index not in shown]
    return list(features) + rest
