"""Preallocated arrays for one batch size, so that a training step allocates nothing.

A step of an L-layer network writes, for each layer l: Z^l and A^l (and, with dropout, the
mask and the dropped-out A^l), the delta δ^l, and the gradients ∂L/∂W^l and ∂L/∂b^l. A
``Workspace`` holds one array for each, for batches of exactly ``rows`` samples, and the
network's ``_forward`` and ``_backward`` write into it with ``out=``.

The per-sample arrays have the documented shape ``(N, n)`` but are stored in Fortran order,
which makes their transposes, the seed's ``(n, N)`` matrices with one column per sample,
C-contiguous: the products become ``Z^T = W A^T`` as in the seed. On the 2-core development
machine OpenBLAS runs the products of a training step 7-25% faster that way than with row-major
arrays at batch sizes 32-128 (and as fast at 512), and the softmax's reductions over the classes
of each sample run along contiguous memory. Targets given as rows ``(N, n_out)`` are
row-major, like the data; against them the output layer is row-major too, because NumPy's
element-wise loops are several times slower over operands of different layouts (83 µs instead
of 10 for ``a - y`` at 128x784). An inference workspace (``forward``, for any number of rows)
keeps its hidden layers row-major, where for thousands of rows the products are a little
faster, and lets each hidden layer's A^l overwrite its Z^l, which only a backward pass would
read; its output layer stays column-major for the softmax.

Whoever holds a workspace gets the same arrays back at every step. ``fit`` keeps one per batch
size for all its steps and consumes each step's results before the next; every other caller
(``forward``, ``gradients``, ``evaluate``, ``gradcheck``) gets a fresh workspace per call, so no
array it returns is ever overwritten later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .layers import Dense
from .parameters import Layout, Parameters

ALIGN = 16  # elements between layers' starts in a buffer: 64 bytes of float32, 128 of float64


@dataclass
class ForwardCache:
    """What the forward pass keeps for the backward pass, one entry per layer l = 1..L.

    ``inputs[l-1]`` is A^(l-1) as layer l saw it (``inputs[0]`` is X, later ones after
    dropout); ``zs[l-1]`` is Z^l and ``activations[l-1]`` is σ(Z^l) before dropout, both
    ``(N, n_out^l)``; ``masks[l-1]`` is the scaled dropout mask or ``None``. The arrays belong
    to the ``Workspace`` the pass wrote into.
    """

    inputs: list[np.ndarray]
    zs: list[np.ndarray]
    activations: list[np.ndarray]
    masks: list[np.ndarray | None]

    @property
    def output(self) -> np.ndarray:
        return self.activations[-1]


class Workspace:
    """The arrays of one forward and backward pass over ``rows`` samples.

    Parameters
    ----------
    layers : sequence of Dense
        The network's layers, already built (their weights set).
    rows : int
        The batch size N.
    dtype : np.dtype
        The network's dtype; every array has it.
    inference : bool, default False
        For a forward pass only: row-major hidden layers, each with A^l in its Z^l array (σ is
        computed in place, so ``zs`` of hidden layers hold A^l afterwards).
    row_targets : bool, default False
        The loss will compare the output with targets of shape ``(rows, n_out)``: the output
        layer's arrays are then row-major like them (see ``for_targets``).

    Attributes
    ----------
    zs, activations : list of ndarray, shapes ``(rows, n_out^l)``
        Z^l and A^l = σ(Z^l).
    dropped, masks : list of ndarray or None, shapes ``(rows, n_out^l)``
        A^l after dropout and the scaled dropout mask, for layers with dropout (else None).
        The generator fills a mask in its memory order, unit by unit (each MPI rank draws the
        whole batch's mask the same way and keeps its rows).
    deltas : list of ndarray, shapes ``(rows, n_out^l)``
        δ^l; allocated on first use (a forward pass never needs them).
    z_buffer, activation_buffer, delta_buffer : ndarray, 1-D
        The memory of ``zs``, ``activations`` (None in an inference workspace, whose hidden
        A^l are its Z^l) and ``deltas``; layer l's array starts at ``offsets[l]``.
    gradients : list of (ndarray, ndarray)
        ``(∂L/∂W^l, ∂L/∂b^l)`` with the shapes of W^l and b^l, views of ``gradient_vector``
        (shape ``(n_parameters,)``, laid out as the network's parameter vector); allocated on
        first use. ``gradient_list`` is ``[∂L/∂W^1, ∂L/∂b^1, ...]`` over the same vector.
    """

    def __init__(
        self,
        layers: Sequence[Dense],
        rows: int,
        dtype: np.dtype,
        inference: bool = False,
        row_targets: bool = False,
    ):
        self.layers, self.rows, self.dtype = list(layers), rows, dtype
        self.inference = inference
        last = len(self.layers) - 1
        self.orders = ["C" if inference else "F"] * last + ["C" if row_targets else "F"]
        # Z^l, A^l and δ^l of all layers each lie in one buffer, layer after layer, each layer
        # a multiple of ALIGN elements from the start: compiled code (``fused.py``) takes the
        # buffers, as it cannot take a list of arrays of mixed layouts.
        self.offsets, offset = [], 0
        for layer in self.layers:
            self.offsets.append(offset)
            offset += -(-rows * layer.n_out // ALIGN) * ALIGN
        self.z_buffer = np.empty(offset, dtype=dtype)
        self.zs = self._views(self.z_buffer)
        self.dropped, self.masks = [], []
        if inference:  # A^l overwrites Z^l but for the output layer
            self.activation_buffer = None
            self.activations = [*self.zs[:last], self._rows(last)]
        else:
            self.activation_buffer = np.empty(offset, dtype=dtype)
            self.activations = self._views(self.activation_buffer)
        for index, layer in enumerate(self.layers):
            self.dropped.append(self._rows(index) if layer.dropout else None)
            self.masks.append(self._rows(index) if layer.dropout else None)

    @classmethod
    def for_targets(cls, layers: Sequence[Dense], dtype: np.dtype, targets: np.ndarray):
        """A training workspace for a batch whose checked ``targets`` are labels or rows."""
        return cls(layers, len(targets), dtype, row_targets=targets.ndim == 2)

    def _rows(self, index: int) -> np.ndarray:
        """An array for layer ``index``: ``(rows, n_out)``, in that layer's memory order."""
        shape = (self.rows, self.layers[index].n_out)
        return np.empty(shape, dtype=self.dtype, order=self.orders[index])

    def _views(self, buffer: np.ndarray) -> list[np.ndarray]:
        """Each layer's ``(rows, n_out)`` array in ``buffer``, in that layer's memory order."""
        views = []
        for index, (layer, start) in enumerate(zip(self.layers, self.offsets)):
            part = buffer[start : start + self.rows * layer.n_out]
            if self.orders[index] == "F":
                views.append(part.reshape(layer.n_out, self.rows).T)
            else:
                views.append(part.reshape(self.rows, layer.n_out))
        return views

    @cached_property
    def delta_buffer(self) -> np.ndarray:
        return np.empty(len(self.z_buffer), dtype=self.dtype)

    @cached_property
    def deltas(self) -> list[np.ndarray]:
        return self._views(self.delta_buffer)

    @cached_property
    def ones(self) -> np.ndarray:
        """A row of ``rows`` ones: ``ones @ δ`` sums δ over the batch."""
        return np.ones(self.rows, dtype=self.dtype)

    @cached_property
    def layout(self) -> Layout:
        return Layout.of_layers(self.layers)

    @cached_property
    def gradient_vector(self) -> np.ndarray:
        return np.empty(self.layout.size, dtype=self.dtype)

    @cached_property
    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return self.layout.pairs(self.gradient_vector)

    @cached_property
    def gradient_list(self) -> Parameters:
        return Parameters(self.gradient_vector, self.layout)
