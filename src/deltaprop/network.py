"""The network: the seed's forward pass and delta recursion, and nothing else.

Batches are rows. A batch of N samples is ``A^0 = X`` of shape ``(N, n_in)``, so the seed's
column equation ``z^l = W^l a^(l-1) + b^l`` becomes, for all samples at once,

    Z^l = A^(l-1) @ W^l.T + b^l          (shape (N, n_out))

with ``W^l`` of shape ``(n_out, n_in)`` exactly as in the seed. The backward pass likewise turns
``δ^l (a^(l-1))^T`` into ``δ^l.T @ A^(l-1)``, summed over the batch; the loss is a mean, so δ^L
already carries the 1/N.

All parameters live in one vector (``parameters.py``); each layer's ``weights`` and ``bias`` are
views into it. The methods below are the NumPy reference of the math. ``compiled.py`` computes
the same equations with numba-compiled kernels; ``Network.passes`` is whichever of the two
engines the network uses, and the fit loop, MPI, explain and gradcheck all go through it.

Training, evaluation and file I/O are in ``training.py`` and ``io.py``; ``Network`` exposes them
as methods so that a user needs only this class.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .activations import Activation, Softmax
from .engines import check_engine, compiled_supports
from .errors import DeltapropTypeError, ValidationError
from .layers import Dense
from .losses import CLASSIFICATION_LOSSES, Loss, get_loss
from .parameters import Layout, Parameters
from .validation import check_dtype, check_inputs, check_seed, check_targets
from .workspace import ForwardCache, Workspace

if TYPE_CHECKING:
    from .optimizers import Optimizer
    from .training import Callback, History

__all__ = ["ForwardCache", "Gradients", "Network", "NumpyEngine"]

Gradients = list[tuple[np.ndarray, np.ndarray]]


def weight_gradient(delta: np.ndarray, inputs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """∂L/∂W^l = δ^l (a^(l-1))^T summed over the batch, written into ``out``.

    ``delta`` is ``(N, n_out)``, ``inputs`` ``(N, n_in)`` and ``out`` ``(n_out, n_in)``. For one
    sample the product is a sum of one term, an outer product, which ``np.matmul`` computes in
    its own strided loop instead of BLAS: several times slower than the element-wise product,
    which gives the same numbers. Adding 0 turns a -0 product into +0, as that loop's sum
    (started from 0) does.
    """
    if len(delta) != 1:
        return np.matmul(delta.T, inputs, out=out)
    np.multiply(delta.T, inputs, out=out)
    out += 0
    return out


class Network:
    """A stack of ``Dense`` layers trained by backpropagation.

    Parameters
    ----------
    layers : sequence of Dense
        The layers in order; layer l's ``n_in`` must equal layer l-1's ``n_out``.
    loss : str or Loss, default "cross_entropy"
        One of ``deltaprop.losses.LOSSES``; must suit the last layer's activation.
    dtype : {"float32", "float64"}, default "float32"
        Precision of parameters and of every array in a training step.
    seed : int, default 0
        Seeds the initial weights, the shuffling and dropout: same seed, same bits.
    engine : {"auto", "numpy", "compiled"}, default "auto"
        Who computes the passes and updates: ``"numpy"``, the reference code of this module;
        ``"compiled"``, the same equations fused into numba kernels (``pip install
        "deltaprop[fast]"``); ``"auto"``, compiled when numba is installed. Both give the same
        bits where no transcendental function (exp, tanh, erf, log1p) is involved, and differ by
        a few units in the last place per step where one is. ``net.engine`` is the one chosen.

    Attributes
    ----------
    parameter_vector : ndarray, shape ``(n_parameters(),)``
        Every W^l and b^l, one after the other; the layers' arrays are views into it.
    layout : Layout
        Where each array sits in ``parameter_vector`` (and in gradient and optimizer vectors).
    """

    def __init__(
        self,
        layers: Sequence[Dense],
        loss: str | Loss = "cross_entropy",
        dtype: str | np.dtype = "float32",
        seed: int = 0,
        engine: str = "auto",
    ):
        self.layers = list(layers)
        self._check_layers()
        self.loss = get_loss(loss)
        self.loss.check_activation(self.layers[-1].activation)
        self.dtype = check_dtype(dtype)
        self.seed = check_seed(seed)
        init_seed, train_seed = np.random.SeedSequence(self.seed).spawn(2)
        init_rng = np.random.default_rng(init_seed)
        for layer in self.layers:
            layer.build(init_rng, self.dtype)
        self._pack()
        self.engine = engine
        # Shuffling and dropout draw from this generator; checkpoints save its state.
        self.rng = np.random.default_rng(train_seed)
        self.history: History | None = None

    @classmethod
    def from_sizes(
        cls,
        sizes: Sequence[int],
        hidden: str | Activation = "relu",
        output: str | Activation = "softmax",
        loss: str | Loss = "cross_entropy",
        dtype: str | np.dtype = "float32",
        seed: int = 0,
        dropout: float = 0.0,
        init: str | None = None,
        engine: str = "auto",
    ) -> Network:
        """Build ``[n_in, hidden..., n_out]``, e.g. ``Network.from_sizes([784, 256, 10])``.

        ``dropout`` applies to every hidden layer's output.
        """
        if isinstance(sizes, (str, bytes)) or len(sizes) < 2:
            raise ValidationError(
                f"sizes must list at least an input and an output size, e.g. [784, 10], "
                f"got {sizes!r}"
            )
        layers = [
            Dense(
                n_in,
                n_out,
                activation=output if last else hidden,
                init=init,
                dropout=0.0 if last else dropout,
            )
            for n_in, n_out, last in zip(
                sizes[:-1], sizes[1:], [i == len(sizes) - 2 for i in range(len(sizes) - 1)]
            )
        ]
        return cls(layers, loss=loss, dtype=dtype, seed=seed, engine=engine)

    def _check_layers(self) -> None:
        if not self.layers:
            raise ValidationError("layers must hold at least one Dense layer, got none")
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Dense):
                raise DeltapropTypeError(
                    f"layers[{index}] must be a deltaprop.Dense, got {type(layer).__name__}"
                )
        for index, (previous, layer) in enumerate(zip(self.layers, self.layers[1:]), start=1):
            if layer.n_in != previous.n_out:
                raise ValidationError(
                    f"layers[{index}] has n_in={layer.n_in} but layers[{index - 1}] has "
                    f"n_out={previous.n_out}: they must be equal"
                )
        if self.layers[-1].dropout:
            raise ValidationError(
                "the output layer cannot have dropout: put dropout on the hidden layers"
            )
        if len({id(layer) for layer in self.layers}) != len(self.layers):
            raise ValidationError("the same Dense object appears twice in layers: create two")

    # ----------------------------------------------------------------- properties
    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    @property
    def sizes(self) -> list[int]:
        return [self.n_in] + [layer.n_out for layer in self.layers]

    @property
    def is_classifier(self) -> bool:
        """True when the loss is a classification loss (softmax or sigmoid outputs)."""
        return self.loss.name in CLASSIFICATION_LOSSES

    def parameters(self) -> Parameters:
        """``[W^1, b^1, W^2, b^2, ...]``: the arrays an optimizer updates in place.

        They are views of ``parameter_vector``, which the returned list carries, so that
        ``Optimizer.step`` updates them all in one pass.
        """
        return Parameters(self.parameter_vector, self.layout, self.passes.fused_update)

    def n_parameters(self) -> int:
        return self.layout.size

    # ----------------------------------------------------------------- the parameter vector
    @property
    def parameter_vector(self) -> np.ndarray:
        """Every W^l and b^l, shape ``(n_parameters(),)``; the layers' arrays are its views."""
        self._check_packed()
        return self._parameter_vector

    def _pack(self) -> None:
        """Copy every W^l and b^l into one new vector and make the layers' arrays its views."""
        self.layout = Layout.of_layers(self.layers)
        arrays = [array for layer in self.layers for array in (layer.weights, layer.bias)]
        dtype = arrays[0].dtype
        self._parameter_vector = vector = self.layout.pack(arrays, dtype)
        for layer, (weights, bias) in zip(self.layers, self.layout.pairs(vector)):
            layer._bind(weights, bias)

    def _check_packed(self) -> None:
        """Re-pack when a layer's arrays stopped being views of the vector (the layer was put
        into another network since), so that the vector and the layers never disagree."""
        vector = self._parameter_vector
        for layer in self.layers:  # a loop, not any(): this runs at every training step
            if layer.weights.base is not vector or layer.bias.base is not vector:
                self._pack()
                return

    @property
    def engine(self) -> str:
        """The engine computing this network: ``"numpy"`` or ``"compiled"``; assigning
        ``"auto"``, ``"numpy"`` or ``"compiled"`` switches it (the parameters stay)."""
        return self._engine

    @engine.setter
    def engine(self, engine: str) -> None:
        self._engine = check_engine(engine)

    @property
    def passes(self) -> NumpyEngine:
        """The engine that runs this network's passes and updates (see ``engines.py``).

        ``forward``, ``backward``, ``backprop``, ``loss`` and ``fused_update``: the interface the
        fit loop, ``distributed``, ``explain`` and ``gradcheck`` use.
        """
        key = (self.engine, self.dtype)
        passes = self.__dict__.get("_passes")
        if passes is None or passes.key != key:
            if self.engine == "compiled" and compiled_supports(self.dtype):
                from .compiled import CompiledEngine

                passes = CompiledEngine(self)
            else:
                passes = NumpyEngine(self)
            passes.key = key
            self._passes = passes
        return passes

    # ----------------------------------------------------------------- the seed's math
    def _forward(
        self, X: np.ndarray, rng: np.random.Generator | None = None, work: Workspace | None = None
    ) -> ForwardCache:
        """Forward pass keeping what backpropagation needs.

        ``X`` has shape ``(N, n_in)``. Dropout runs only when ``rng`` is given (training). The
        arrays are written into ``work`` (a ``Workspace`` for N rows), a fresh one by default.
        """
        work = work or Workspace(self.layers, len(X), self.dtype)
        inputs = [X]
        for index, layer in enumerate(self.layers):
            # z^l = W^l a^(l-1) + b^l
            z = np.matmul(inputs[index], layer.weights.T, out=work.zs[index])
            z += layer.bias
            # a^l = σ(z^l)
            a = layer.activation.forward(z, out=work.activations[index])
            if rng is not None and layer.dropout:
                # inverted dropout: keep each unit with probability 1 - p, scale by 1/(1 - p)
                keep = a.dtype.type(1.0 - layer.dropout)
                mask = rng.random(dtype=a.dtype, out=work.masks[index])
                np.less(mask, keep, out=mask)
                mask /= keep
                a = np.multiply(a, mask, out=work.dropped[index])
            inputs.append(a)
        masks = work.masks if rng is not None else [None] * len(self.layers)
        return ForwardCache(inputs, work.zs, work.activations, masks)

    def _backward(
        self,
        cache: ForwardCache,
        targets: np.ndarray,
        work: Workspace | None = None,
        deltas: list[np.ndarray] | None = None,
    ) -> Gradients:
        """Backward pass: one ``(∂L/∂W^l, ∂L/∂b^l)`` pair per layer, shapes of W^l and b^l.

        The deltas and gradients are written into ``work``, a fresh ``Workspace`` by default.
        When ``deltas`` is a list, each δ^l, shape ``(N, n_out^l)``, is put in it in the order
        l = 1..L (``deltaprop.explain`` shows them).
        """
        work = work or Workspace.for_targets(self.layers, self.dtype, targets)
        layers, gradients = self.layers, work.gradients
        # δ^L = ∂L/∂a^L ⊙ σ'(z^L)   (fused to (P - Y)/N for softmax + cross-entropy)
        delta = self.loss.output_delta(
            cache.zs[-1], cache.output, targets, layers[-1].activation, out=work.deltas[-1]
        )
        for index in range(len(layers) - 1, -1, -1):
            if deltas is not None:
                deltas.insert(0, delta)
            weights_grad, bias_grad = gradients[index]
            # ∂L/∂W^l = δ^l (a^(l-1))^T   and   ∂L/∂b^l = δ^l, summed over the batch
            weight_gradient(delta, cache.inputs[index], out=weights_grad)
            np.matmul(work.ones, delta, out=bias_grad)  # the sum as 1ᵀδ^l: one BLAS call
            if index == 0:
                break  # the input X needs no gradient
            # δ^(l-1) = ((W^l)^T δ^l) ⊙ σ'(z^(l-1))
            below = index - 1
            grad_a = np.matmul(delta, layers[index].weights, out=work.deltas[below])
            if cache.masks[below] is not None:
                grad_a *= cache.masks[below]
            delta = layers[below].activation.backward(
                grad_a, cache.zs[below], cache.activations[below]
            )
        return gradients

    def _backprop(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        rng: np.random.Generator | None = None,
        work: Workspace | None = None,
    ) -> tuple[float, Gradients, np.ndarray]:
        """Mean loss, gradients and output a^L for checked inputs (dropout when ``rng``).

        Every array is written into ``work`` (a ``Workspace`` for ``len(X)`` rows; ``fit``
        passes the same one at every step), or into a fresh one by default.
        """
        work = work or Workspace.for_targets(self.layers, self.dtype, targets)
        cache = self._forward(X, rng, work)
        loss = float(self.loss.value(cache.zs[-1], cache.output, targets))
        return loss, self._backward(cache, targets, work), cache.output

    def _backprop_loss(self, X: np.ndarray, targets: np.ndarray) -> np.floating:
        """Mean loss of checked inputs, forward pass only, in the network's dtype."""
        cache = self._forward(X)
        return self.loss.value(cache.zs[-1], cache.output, targets)

    # ----------------------------------------------------------------- public API
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Return the output a^L, shape ``(N, n_out)``, for inputs ``X`` of shape ``(N, n_in)``.

        Dropout never runs here: this is the network used for prediction.
        """
        X = check_inputs(X, self.n_in, self.dtype)
        work = Workspace(self.layers, len(X), self.dtype, inference=True)
        return np.ascontiguousarray(self.passes.forward(X, work=work).output)

    def gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[float, Gradients]:
        """Return ``(loss, [(dW, db), ...])`` for one batch, without changing any parameter.

        ``X`` has shape ``(N, n_in)``; ``y`` holds class labels ``(N,)`` or targets
        ``(N, n_out)``. ``loss`` is the mean over the batch; each ``dW`` has the shape of the
        layer's ``weights`` and each ``db`` of its ``bias``. Dropout is off.
        """
        X = check_inputs(X, self.n_in, self.dtype)
        targets = check_targets(y, len(X), self.n_out, self.loss, self.dtype)
        loss, gradients, _ = self.passes.backprop(X, targets)
        return loss, gradients

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, n_out)`` of a classifier (softmax or sigmoid outputs)."""
        if not self.is_classifier:
            raise ValidationError(
                f"predict_proba needs a classifier (loss cross_entropy or binary_cross_entropy), "
                f"this network uses {self.loss.name!r}: use predict"
            )
        return self.forward(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels ``(N,)`` for a classifier, else the outputs ``(N, n_out)``.

        Softmax outputs give the most probable class; one sigmoid output gives 0/1 by
        thresholding at 0.5, several sigmoid outputs one 0/1 column each (multi-label).
        """
        output = self.forward(X)
        if not self.is_classifier:
            return output
        if isinstance(self.layers[-1].activation, Softmax):
            return output.argmax(axis=1)
        labels = (output >= 0.5).astype(np.int64)
        return labels[:, 0] if self.n_out == 1 else labels

    def evaluate(self, X: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> dict[str, float]:
        """Return ``{"loss": ..., "accuracy": ...}`` (accuracy for classification targets)."""
        from .training import evaluate

        return evaluate(self, X, y, batch_size=batch_size)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int = 10,
        batch_size: int = 32,
        optimizer: Optimizer | None = None,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        callbacks: Sequence[Callback] = (),
        verbose: int = 0,
        **options: Any,
    ) -> History:
        """Train with mini-batch gradient descent; see ``deltaprop.training.fit``."""
        from .training import fit

        return fit(
            self,
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            validation_data=validation_data,
            validation_split=validation_split,
            shuffle=shuffle,
            callbacks=callbacks,
            verbose=verbose,
            **options,
        )

    def save(self, path: str | Path) -> None:
        """Write the network to a ``.safetensors`` model file; see ``deltaprop.io.save``."""
        from .io import save

        save(self, path)

    def copy(self, dtype: str | np.dtype | None = None) -> Network:
        """A deep copy, optionally in another dtype (``gradcheck`` uses a float64 copy)."""
        clone = _copy.deepcopy(self)
        if dtype is not None:
            clone._cast(check_dtype(dtype))
        return clone

    def __deepcopy__(self, memo: dict) -> Network:
        # deepcopy would copy the vector and each of its views on its own: copy the vector once
        # and hand the clone's layers the views of that copy in place of their arrays.
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        vector = self.parameter_vector.copy()
        memo[id(self._parameter_vector)] = vector
        for layer, (weights, bias) in zip(self.layers, self.layout.pairs(vector)):
            memo[id(layer.weights)], memo[id(layer.bias)] = weights, bias
        for name, value in vars(self).items():
            if name != "_passes":  # an engine belongs to its network; the clone makes its own
                setattr(clone, name, _copy.deepcopy(value, memo))
        return clone

    def _cast(self, dtype: np.dtype) -> None:
        """Put the parameters and every array of later passes in ``dtype`` (unchecked: gradcheck
        also uses ``np.longdouble``, which only the NumPy engine computes in)."""
        self.dtype = dtype
        for layer in self.layers:
            layer._bind(layer.weights.astype(dtype), layer.bias.astype(dtype))
        self._pack()

    def __repr__(self) -> str:
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return (
            "Network(\n" + "\n".join(lines) + f"\n  loss={self.loss.name!r}, "
            f"dtype={self.dtype.name!r}, parameters={self.n_parameters():,}, "
            f"engine={self.engine!r}\n)"
        )

    def _repr_html_(self) -> str:
        """Jupyter shows a diagram of the layers and a table of them (``display.py``)."""
        from .display import network_html

        return network_html(self)


class NumpyEngine:
    """The reference engine: the passes are ``Network``'s own NumPy methods above.

    Every engine offers this interface (``compiled.CompiledEngine`` too); ``work`` is a
    ``Workspace`` for ``len(X)`` rows, a fresh one by default, and ``X`` is ``(N, n_in)``.
    """

    name = "numpy"
    fused_update = None  # optimizers update the parameter vector with their own NumPy code

    def __init__(self, network: Network):
        self.network = network

    def forward(self, X, rng=None, work=None) -> ForwardCache:
        """The forward pass keeping what backpropagation needs (dropout when ``rng``)."""
        return self.network._forward(X, rng, work)

    def backward(self, cache, targets, work=None, deltas=None) -> Gradients:
        """``[(∂L/∂W^l, ∂L/∂b^l), ...]``, views of ``work.gradient_vector``."""
        return self.network._backward(cache, targets, work, deltas)

    def backprop(self, X, targets, rng=None, work=None) -> tuple[float, Gradients, np.ndarray]:
        """Mean loss, gradients and output a^L of one batch (dropout when ``rng``)."""
        return self.network._backprop(X, targets, rng, work)

    def train_step(
        self, X, targets, rng=None, work=None, optimizer=None, parameters=None
    ) -> tuple[float, Gradients, np.ndarray, bool]:
        """``backprop``; an engine that can make ``optimizer``'s update of ``parameters`` in
        the same pass does, and says so in the last value (this one never does)."""
        return (*self.backprop(X, targets, rng, work), False)

    def train_steps(self, X, targets, order, steps, batch, work, optimizer, parameters, totals,
                    with_accuracy) -> tuple[int, int] | None:  # fmt: skip
        """Several steps of the fit loop in one call, where an engine can (see
        ``CompiledEngine.train_steps``); this one cannot: None."""
        return None

    def loss(self, X, targets) -> np.floating:
        """Mean loss, forward pass only, in the network's dtype."""
        return self.network._backprop_loss(X, targets)
