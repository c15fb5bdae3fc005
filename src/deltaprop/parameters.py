"""One contiguous vector for all parameters of a network, and the per-layer views into it.

A network of L layers has 2L parameter arrays ``[W^1, b^1, ..., W^L, b^L]``. They live one
after the other in a single 1-D array (the *parameter vector*), and each layer's ``weights``
``(n_out, n_in)`` and ``bias`` ``(n_out,)`` are views into it. Gradients and optimizer state
(velocities, moments) use the same layout, so an optimizer step, gradient clipping, the finite
check and the MPI allreduce are each one operation over one array instead of 2L.

``Layout`` says where each array sits; ``Parameters`` is the list of per-array views that
``Network.parameters()`` returns, carrying the vector it views so that an optimizer can update
all of it in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


class Layout:
    """Where each of the arrays ``[W^1, b^1, ..., W^L, b^L]`` sits in a vector.

    Parameters
    ----------
    shapes : sequence of tuple
        The arrays' shapes in order: ``(n_out, n_in)`` for a weight matrix, ``(n_out,)`` for a
        bias.

    Attributes
    ----------
    offsets : list of int
        Where each array starts; ``size`` is where the last one ends.
    decayed : list of slice
        The stretches of the vector that hold weight matrices (weight decay applies to them,
        not to biases).
    starts, stops, is_weight : ndarray, shape ``(len(shapes),)``
        Each array's stretch ``[start, stop)`` and whether it is a weight matrix.
    """

    def __init__(self, shapes: Sequence[tuple[int, ...]]):
        self.shapes = [tuple(shape) for shape in shapes]
        self.offsets, offset = [], 0
        for shape in self.shapes:
            self.offsets.append(offset)
            offset += int(np.prod(shape))
        self.size = offset
        self.decayed = [
            slice(start, start + int(np.prod(shape)))
            for start, shape in zip(self.offsets, self.shapes)
            if len(shape) == 2
        ]
        # The same as arrays, for compiled loops: each array's [start, stop) and whether it is
        # a weight matrix.
        self.starts = np.array(self.offsets, dtype=np.int64)
        self.stops = np.array([*self.offsets[1:], self.size], dtype=np.int64)
        self.is_weight = np.array([len(shape) == 2 for shape in self.shapes], dtype=bool)

    @classmethod
    def of_layers(cls, layers) -> Layout:
        """The layout of ``[W^1, b^1, ...]`` for a list of ``Dense`` layers."""
        shapes = []
        for layer in layers:
            shapes += [(layer.n_out, layer.n_in), (layer.n_out,)]
        return cls(shapes)

    def views(self, vector: np.ndarray) -> list[np.ndarray]:
        """One view of ``vector`` (1-D, ``size`` long) per array, in the arrays' shapes."""
        return [
            vector[start : start + int(np.prod(shape))].reshape(shape)
            for start, shape in zip(self.offsets, self.shapes)
        ]

    def pairs(self, vector: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W^1-shaped view, b^1-shaped view), ...]`` of ``vector``."""
        views = self.views(vector)
        return list(zip(views[0::2], views[1::2]))

    def pack(self, arrays: Sequence[np.ndarray], dtype: np.dtype) -> np.ndarray:
        """A new vector in ``dtype`` holding copies of ``arrays`` (shapes as the layout's)."""
        vector = np.empty(self.size, dtype=dtype)
        for view, array in zip(self.views(vector), arrays):
            view[...] = array
        return vector

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and self.shapes == other.shapes

    __hash__ = None  # type: ignore[assignment]


# An engine's fused optimizer update: (optimizer, vector, gradient, lr, state) -> handled?
FusedUpdate = Callable[..., bool]


class Parameters(list):
    """A list of arrays that are views of one ``vector`` laid out by ``layout``.

    ``Network.parameters()`` returns one for the parameters and a training step one for the
    gradients; ``Optimizer.step`` then updates the whole vector at once (with the engine's
    ``fused_update`` when it has one). As a plain list it is what it always was:
    ``[W^1, b^1, ..., W^L, b^L]``.
    """

    def __init__(
        self,
        vector: np.ndarray,
        layout: Layout,
        fused_update: FusedUpdate | None = None,
    ):
        super().__init__(layout.views(vector))
        self.vector, self.layout, self.fused_update = vector, layout, fused_update


def is_packed(arrays: Sequence[np.ndarray]) -> bool:
    """True when ``arrays`` is a ``Parameters`` whose views still cover its whole vector."""
    return isinstance(arrays, Parameters) and len(arrays) == len(arrays.layout.shapes)
