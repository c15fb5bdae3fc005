"""The compiled engine: the passes of ``network.py`` with the element-wise work in numba kernels.

The matrix products are the same NumPy/BLAS calls as the NumPy engine's, into the same
``Workspace`` arrays; what changes is everything between them. Where the NumPy engine makes a
pass over memory per operation (``z += b``, then σ, then the dropout mask, ...), the kernels of
``kernels.py`` make one: bias + activation, dropout, the activation derivative times the upstream
gradient (times the dropout mask), the output delta of softmax/sigmoid with cross-entropy and of
mean squared error, and each optimizer's whole update over the parameter vector.

Whatever has no kernel (ELU, GELU, softplus, softmax outside the output layer or with a
regression loss, mean absolute error, Huber, a user's own optimizer) runs the NumPy engine's
code for that part, so every network trains here, and gives what the NumPy engine gives.

A training step whose every part has a kernel, and no dropout, makes all these calls in one
compiled call instead (``fused.py``), with the products by ``blas.matmul``: the same bits,
without the dispatch of some 20 calls from Python per step; with plain SGD, the update too
(``train_step``).
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

import numpy as np

from . import blas, fused, kernels
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .history import GRAD_NORM_EVERY
from .losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from .schedules import Constant
from .workspace import ForwardCache, Workspace

if TYPE_CHECKING:
    from .network import Gradients, Network
    from .optimizers import Optimizer
    from .parameters import Layout

KINDS = {
    Identity: kernels.IDENTITY,
    ReLU: kernels.RELU,
    LeakyReLU: kernels.LEAKY_RELU,
    Sigmoid: kernels.SIGMOID,
    Tanh: kernels.TANH,
}


def _kind(activation) -> int | None:
    """The kernel code of an activation, or None when it has no kernel (NumPy computes it)."""
    return KINDS.get(type(activation))


def _rowwise(array: np.ndarray) -> np.ndarray:
    """``array`` as a C-contiguous view: itself, or the transpose of a column-major array.

    Arrays of one shape that are all row-major or all column-major come out with one shape, so
    that element (i, j) of each is the same sample and unit.
    """
    return array.T if array.flags.f_contiguous else array


def _signature(layers) -> list[tuple[type, object]]:
    """Each layer's activation type and ``alpha`` (leaky ReLU's slope, ...; None if it has
    none): what the kernels' codes and constants are worked out from."""
    return [(type(layer.activation), getattr(layer.activation, "alpha", None)) for layer in layers]


_CHECKED: dict[type, bool] = {}  # blas.check(dtype), once per process


def _fused_available(dtype: type) -> bool:
    if dtype not in _CHECKED:
        _CHECKED[dtype] = blas.check(dtype)
    return _CHECKED[dtype]


class _Plan:
    """What the kernels need to know of each layer, worked out once per set of activations."""

    def __init__(self, layers, dtype):
        self.signature = _signature(layers)
        self.kinds = [_kind(layer.activation) for layer in layers]
        self.alphas = [dtype(0.0 if alpha is None else alpha) for _type, alpha in self.signature]
        self.softmax_output = isinstance(layers[-1].activation, Softmax)

    def fits(self, layers) -> bool:
        """Whether the layers still have activations of these types, with these alphas: an
        alpha is a plain attribute that a user may change (``activation.alpha = 0.5``) between
        passes, and a layer's activation may be replaced."""
        return _signature(layers) == self.signature


def _learning_rates(optimizer: Optimizer, count: int) -> np.ndarray:
    """The learning rates of ``optimizer``'s next ``count`` updates, ``(count,)`` float64."""
    if type(optimizer.schedule) is Constant:
        return np.full(count, optimizer.current_lr)
    at = optimizer.iterations
    return np.array([optimizer.schedule(optimizer.lr, at + k) for k in range(count)])


class CompiledEngine:
    """Same interface and results as ``network.NumpyEngine``; see the module docstring."""

    name = "compiled"

    def __init__(self, network: Network):
        self.network = network
        self.dtype = network.dtype.type
        self._empty = np.empty(0, dtype=network.dtype)
        self._empty2 = np.empty((0, 0), dtype=network.dtype)  # "no dropout mask", "no rows"
        self._no_labels = np.empty(0, dtype=np.int64)
        self._no_update = (False, self._empty, self._no_labels, self._no_labels, self._empty,
                           self.dtype(0), self.dtype(0), False)  # fmt: skip
        zero = self.dtype(0)
        self._no_adam = (self._empty, self._empty, self._empty, zero, zero, zero, zero, zero,
                         self._empty, self._empty)  # fmt: skip
        self._plan = _Plan(network.layers, self.dtype)
        self._kept_factors: dict[tuple[int, float, float], np.ndarray] = {}

    def plan(self) -> _Plan:
        """The layers' plan, redone when an activation or its alpha was changed since."""
        layers = self.network.layers
        if not self._plan.fits(layers):
            self._plan = _Plan(layers, self.dtype)
        return self._plan

    # ------------------------------------------------------------------ passes
    def forward(self, X, rng=None, work=None, plan=None) -> ForwardCache:
        """The forward pass of ``Network._forward``, with bias + σ and dropout fused."""
        network = self.network
        layers = network.layers
        plan = plan or self.plan()
        work = work or Workspace(layers, len(X), network.dtype)
        inputs = [X]
        last = len(layers) - 1
        for index, layer in enumerate(layers):
            kind, alpha = plan.kinds[index], plan.alphas[index]
            # z^l = W^l a^(l-1) + b^l  and  a^l = σ(z^l)
            z = np.matmul(inputs[index], layer.weights.T, out=work.zs[index])
            a = work.activations[index]
            if index == last and plan.softmax_output:
                kernels.bias_softmax(z, layer.bias, a)
            elif kind is None:
                z += layer.bias
                a = layer.activation.forward(z, out=a)
            elif z.flags.c_contiguous:
                kernels.bias_activation(z, layer.bias, a, True, kind, alpha)
            else:  # column-major: its transpose is row-major, with the bias along the rows
                kernels.bias_activation(z.T, layer.bias, a.T, False, kind, alpha)
            if rng is not None and layer.dropout:
                keep = self.dtype(1.0 - layer.dropout)
                mask = rng.random(dtype=a.dtype, out=work.masks[index])
                dropped = work.dropped[index]
                kernels.dropout(_rowwise(mask), _rowwise(a), _rowwise(dropped), keep)
                a = dropped
            inputs.append(a)
        masks = work.masks if rng is not None else [None] * len(layers)
        return ForwardCache(inputs, work.zs, work.activations, masks)

    def backward(self, cache, targets, work=None, deltas=None, plan=None) -> Gradients:
        """The delta recursion of ``Network._backward``, with δ's element-wise parts fused."""
        network = self.network
        layers = network.layers
        plan = plan or self.plan()
        work = work or Workspace.for_targets(layers, network.dtype, targets)
        gradients = work.gradients
        delta = self._output_delta(cache, targets, work.deltas[-1], plan)
        for index in range(len(layers) - 1, -1, -1):
            if deltas is not None:
                deltas.insert(0, delta)
            weights_grad, bias_grad = gradients[index]
            # ∂L/∂W^l = δ^l (a^(l-1))^T   and   ∂L/∂b^l = δ^l, summed over the batch
            if len(delta) == 1:  # one sample: an outer product (see network.weight_gradient)
                kernels.outer(delta, cache.inputs[index], weights_grad)
            else:
                np.matmul(delta.T, cache.inputs[index], out=weights_grad)
            np.matmul(work.ones, delta, out=bias_grad)
            if index == 0:
                break
            # δ^(l-1) = ((W^l)^T δ^l) ⊙ σ'(z^(l-1))
            below = index - 1
            grad_a = np.matmul(delta, layers[index].weights, out=work.deltas[below])
            mask = cache.masks[below]
            kind = plan.kinds[below]
            z, a = cache.zs[below], cache.activations[below]
            layout = grad_a.flags.f_contiguous
            if kind is None or z.flags.f_contiguous != layout or a.flags.f_contiguous != layout:
                if mask is not None:
                    grad_a *= mask
                delta = layers[below].activation.backward(grad_a, z, a)
            else:
                mask = self._empty2 if mask is None else _rowwise(mask)
                kernels.activation_backward(
                    _rowwise(grad_a), _rowwise(z), _rowwise(a), mask, kind, plan.alphas[below]
                )
                delta = grad_a
        return gradients

    def _output_delta(self, cache, targets, out, plan) -> np.ndarray:
        """δ^L into ``out`` by a kernel where the loss has one, else by the loss's NumPy code."""
        network = self.network
        loss, activation = network.loss, network.layers[-1].activation
        z, a = cache.zs[-1], cache.output
        kind, alpha = plan.kinds[-1], plan.alphas[-1]
        if type(loss) is CrossEntropy and targets.ndim == 1:
            # δ^L = (P - Y)/N
            kernels.delta_from_labels(a, targets, self.dtype(1 / len(a)), out)
            return out
        if type(loss) is CrossEntropy or (type(loss) is BinaryCrossEntropy and targets.ndim == 2):
            # δ^L = (P - Y)/N, or /(N·n_out) for binary cross-entropy
            scale = 1 / (len(a) if type(loss) is CrossEntropy else a.size)
            kernels.delta_from_rows(a, z, targets, self.dtype(scale), kernels.IDENTITY, alpha, out)
            return out
        if type(loss) is MeanSquaredError and kind is not None and targets.ndim == 2:
            # δ^L = 2(A - Y)/(N·n_out) ⊙ σ'(Z^L)
            kernels.delta_from_rows(a, z, targets, self.dtype(2 / a.size), kind, alpha, out)
            return out
        return loss.output_delta(z, a, targets, activation, out=out)

    def backprop(self, X, targets, rng=None, work=None) -> tuple[float, Gradients, np.ndarray]:
        """Mean loss, gradients and output a^L of one batch (dropout when ``rng``): in one
        compiled call (``fused.py``) where it has every part, else pass by pass from here."""
        return self.train_step(X, targets, rng, work)[:3]

    def train_step(
        self, X, targets, rng=None, work=None, optimizer=None, parameters=None
    ) -> tuple[float, Gradients, np.ndarray, bool]:
        """``backprop``, and, where the same compiled call can make it (plain SGD, see
        ``fused.backprop``), ``optimizer``'s update of ``parameters`` too; the last value
        says whether it did."""
        network = self.network
        work = work or Workspace.for_targets(network.layers, network.dtype, targets)
        plan = self.plan()
        call = self._fused_call(X, targets, rng, work, plan)
        if call is not None:
            update = self._sgd_arguments(optimizer, parameters, work, call[3])
            loss, updated = fused.backprop(*call, *(update or self._no_update))
            if not call[-1]:  # a loss without a kernel: NumPy's, from what the pass wrote
                loss = network.loss.value(work.zs[-1], work.activations[-1], targets)
            if updated:
                optimizer.step_done()
            return float(loss), work.gradients, work.activations[-1], updated
        cache = self.forward(X, rng, work, plan)
        if type(network.loss) is CrossEntropy and targets.ndim == 1 and len(X):
            loss = float(kernels.cross_entropy_from_labels(cache.zs[-1], targets))
        else:
            loss = float(network.loss.value(cache.zs[-1], cache.output, targets))
        return loss, self.backward(cache, targets, work, plan=plan), cache.output, False

    def train_steps(
        self, X, targets, order, steps: range, batch, work, optimizer, parameters, totals,
        with_accuracy: bool,
    ) -> tuple[int, int] | None:  # fmt: skip
        """The fit loop's ``steps`` of an epoch in one compiled call (``fused.steps``), each
        on the rows of ``X (n, n_in)`` and ``targets`` that ``order`` puts in its batch,
        gathered into ``batch``, the loop's ``(X, targets)`` buffers of ``work.rows`` rows;
        with ``optimizer``'s update and the loop's bookkeeping (``totals``, the epoch's
        running sums, see ``fused.steps``).

        Returns how many steps it made and how many of them added gradient norms ((0, 0) when
        the first could not be updated); None where this fit cannot have such calls (an
        optimizer other than plain SGD, Adam or AdamW at a constant rate, a loss that the call
        does not compute, dropout, ...), leaving the steps to the loop.
        """
        network = self.network
        if any(layer.dropout for layer in network.layers) or order.dtype != np.int64:
            return None
        if not (X.flags.c_contiguous and targets.flags.c_contiguous and X.dtype == network.dtype):
            return None
        call = self._fused_call(*batch, None, work, self.plan())
        if call is None or call[12] == fused.ROWS:  # (ROWS: a loss the call does not compute)
            return None
        count, dtype = len(steps), self.dtype
        update = self._sgd_arguments(optimizer, parameters, work, call[3])
        if update is not None:
            _update, velocity, starts, stops, decays, _lr, momentum, nesterov = update
            lrs, adam = _learning_rates(optimizer, count).astype(dtype), self._no_adam
        else:
            update = self._adam_arguments(optimizer, parameters, work, call[3], count)
            if update is None:
                return None
            (starts, stops, decays), adam = update
            # (backprop makes no update with Adam: its lrs and momentum go unused)
            velocity, lrs, momentum, nesterov = self._empty, adam[-1], dtype(0), False
        labels = targets.ndim == 1
        done, normed = fused.steps(
            X, targets if labels else self._no_labels, self._empty2 if labels else targets,
            order, steps.start, count, *call[:15], velocity, starts, stops, decays, lrs,
            momentum, nesterov, adam, with_accuracy, GRAD_NORM_EVERY, totals,
        )  # fmt: skip
        optimizer.step_done(done)
        return done, normed

    def _prepared(self, optimizer, parameters, work, vector, base, updates) -> tuple | None:
        """``optimizer.prepare_step``'s (lr, state, layout) for an update made in compiled code,
        or None where that cannot be: an optimizer whose ``_update`` is none of ``updates`` or
        whose ``step`` is not the class ``base``'s, ``parameters`` that are not views of
        ``vector`` (the network's parameter vector), gradients to clip, state in another
        dtype."""
        kind = type(optimizer)
        if optimizer is None or kind._update not in updates or kind.step is not base.step:
            return None  # a subclass's own step (or update) must run
        if getattr(parameters, "vector", None) is not vector:
            return None
        prepared = optimizer.prepare_step(parameters, work.gradient_list)
        if prepared is None or not self._in_dtype(prepared[1]):
            return None
        return prepared

    def _sgd_arguments(self, optimizer, parameters, work, vector) -> tuple | None:
        """``fused.backprop``'s update arguments for ``optimizer``'s next step, or None where
        it is not plain SGD over ``vector`` (the fit loop then calls its ``step``)."""
        prepared = self._prepared(optimizer, parameters, work, vector, SGD, (SGD._update,))
        if prepared is None:
            return None
        lr, state, layout = prepared
        dtype = self.dtype
        decays = self._factors(layout, optimizer.weight_decay, 0)
        velocity = state.get("velocity", self._empty)
        return (
            True, velocity, layout.starts, layout.stops, decays, dtype(lr),
            dtype(optimizer.momentum), optimizer.nesterov,
        )  # fmt: skip

    def _adam_arguments(self, optimizer, parameters, work, vector, count) -> tuple | None:
        """``fused.steps``'s update arguments for ``optimizer``'s next ``count`` steps: the
        segments' starts, stops and coupled decays, and its ``adam`` tuple, with each step's
        bias corrections as ``fused_update`` computes them; None where it is not Adam over
        ``vector``, or AdamW whose shrink a schedule changes from step to step."""
        decoupled = type(optimizer)._update is AdamW._update
        if decoupled and type(optimizer.schedule) is not Constant:
            return None
        prepared = self._prepared(
            optimizer, parameters, work, vector, Adam, (Adam._update, AdamW._update)
        )
        if prepared is None:
            return None
        lr, state, layout = prepared
        dtype, at = self.dtype, optimizer.iterations
        beta1, beta2, decay = optimizer.beta1, optimizer.beta2, optimizer.weight_decay
        c2s = [math.sqrt(1 - beta2 ** (at + k + 1)) for k in range(count)]
        corrections = np.array([1 - beta1 ** (at + k + 1) for k in range(count)])
        step_sizes = _learning_rates(optimizer, count) / corrections
        shrinks = self._factors(layout, 1 - lr * decay if decoupled else 1.0, 1)
        decays = self._factors(layout, 0.0 if decoupled else decay, 0)
        adam = (
            state["m"], state["v"], shrinks, dtype(beta1), dtype(1 - beta1), dtype(beta2),
            dtype(1 - beta2), dtype(optimizer.eps), np.array(c2s).astype(dtype),
            step_sizes.astype(dtype),
        )  # fmt: skip
        return (layout.starts, layout.stops, decays), adam

    def _fused_call(self, X, targets, rng, work, plan) -> tuple | None:
        """The arguments of ``fused.backprop`` for this batch, or None where it lacks a part
        (dropout, an activation or loss without a kernel, arrays in other layouts, a NumPy
        whose BLAS ``blas.matmul`` cannot call)."""
        network = self.network
        if rng is not None and any(layer.dropout for layer in network.layers):
            return None
        if X.dtype != network.dtype or not X.flags.c_contiguous or X.ndim != 2:
            return None
        if len(X) != work.rows or not targets.flags.c_contiguous:
            return None
        vector = network.parameter_vector
        labels = targets.ndim == 1
        key = (network.layout, plan, network.loss, labels, targets.dtype)
        kept = getattr(work, "fused", None)  # (the key, the arguments) of the last step
        if kept is None or not all(map(operator.is_, kept[0], key)):
            kept = work.fused = (key, self._fused_arguments(work, targets, plan))
        if kept[1] is None:
            return None
        table, alphas, how, scale = kept[1]
        return (
            X, targets if labels else self._no_labels, self._empty2 if labels else targets,
            vector, work.gradient_vector, work.z_buffer, work.activation_buffer,
            work.delta_buffer, table, alphas, work.ones,
            plan.softmax_output, how, scale, not labels, how != fused.ROWS,
        )  # fmt: skip

    def _fused_arguments(self, work: Workspace, targets, plan: _Plan) -> tuple | None:
        """What ``fused.backprop`` takes from the network and the workspace, the same at every
        step of a fit (the table of layers, the alphas, how δ^L comes and its scale), or None
        where it cannot compute these passes."""
        network = self.network
        loss, rows, labels = network.loss, work.rows, targets.ndim == 1
        if not _fused_available(self.dtype) or work.inference or rows == 0:
            return None
        if None in plan.kinds[:-1] or not (plan.softmax_output or plan.kinds[-1] is not None):
            return None
        if labels != (work.orders[-1] == "F") or targets.dtype != (
            np.int64 if labels else network.dtype
        ):
            return None
        n_outputs = rows * network.layers[-1].n_out
        if type(loss) is CrossEntropy and labels:
            how, scale = fused.LABELS, 1 / rows
        elif type(loss) is CrossEntropy or (type(loss) is BinaryCrossEntropy and not labels):
            how = fused.ROWS
            scale = 1 / (rows if type(loss) is CrossEntropy else n_outputs)
        elif type(loss) is MeanSquaredError and plan.kinds[-1] is not None and not labels:
            how, scale = fused.ROWS_WITH_PRIME, 2 / n_outputs
        else:
            return None
        layout = network.layout
        table = np.zeros((len(work.layers), fused.LAYER_COLUMNS), dtype=np.int64)
        for index, layer in enumerate(work.layers):
            kind = plan.kinds[index]
            table[index] = (
                layer.n_in, layer.n_out, layout.offsets[2 * index], layout.offsets[2 * index + 1],
                work.offsets[index], kernels.IDENTITY if kind is None else kind,
            )  # fmt: skip
        return table, np.array(plan.alphas, dtype=self.dtype), how, self.dtype(scale)

    def loss(self, X, targets) -> np.floating:
        """Mean loss, forward pass only, in the network's dtype."""
        cache = self.forward(X)
        return self.network.loss.value(cache.zs[-1], cache.output, targets)

    # ------------------------------------------------------------------ optimizer updates
    def _factors(self, layout: Layout, weights: float, biases: float) -> np.ndarray:
        """Per array of ``layout``, ``weights`` for a weight matrix and ``biases`` for a bias, in
        the network's dtype: the kernels' ``decays`` and ``shrinks``, kept between steps."""
        key = (id(layout), weights, biases)
        factors = self._kept_factors.get(key)
        if factors is None or len(factors) != len(layout.starts):
            if len(self._kept_factors) > 16:  # a schedule changes AdamW's shrink every step
                self._kept_factors.clear()
            dtype = self.dtype
            factors = np.where(layout.is_weight, dtype(weights), dtype(biases))
            self._kept_factors[key] = factors
        return factors

    def _in_dtype(self, state: dict[str, np.ndarray]) -> bool:
        """Whether an optimizer's state vectors are in the network's dtype, as the kernels
        need (not so for an optimizer used on a network of another dtype before)."""
        return all(array.dtype.type is self.dtype for array in state.values())

    def fused_update(
        self,
        optimizer: Optimizer,
        vector: np.ndarray,
        gradient: np.ndarray,
        lr: float,
        state: dict[str, np.ndarray],
        layout: Layout,
    ) -> bool:
        """One pass of ``optimizer``'s update over the parameter vector; False when it has no
        kernel (a user's own ``_update``), leaving the step to the optimizer's NumPy code."""
        update = type(optimizer)._update
        dtype = self.dtype
        if vector.dtype.type is not dtype or gradient.dtype.type is not dtype:
            return False
        if not self._in_dtype(state):
            return False
        starts, stops = layout.starts, layout.stops
        decays = self._factors(
            layout, optimizer.weight_decay if optimizer._coupled_decay else 0.0, 0
        )
        if update is SGD._update:
            velocity = state.get("velocity", self._empty)
            kernels.sgd(
                vector, gradient, velocity, starts, stops, decays, dtype(lr),
                dtype(optimizer.momentum), optimizer.nesterov,
            )  # fmt: skip
            return True
        if update in (Adam._update, AdamW._update):
            shrink = 1 - lr * optimizer.weight_decay if update is AdamW._update else 1.0
            shrinks = self._factors(layout, shrink, 1)
            t = optimizer.iterations + 1
            kernels.adam(
                vector, gradient, state["m"], state["v"], starts, stops, decays, shrinks,
                dtype(optimizer.beta1), dtype(1 - optimizer.beta1), dtype(optimizer.beta2),
                dtype(1 - optimizer.beta2), dtype(math.sqrt(1 - optimizer.beta2**t)),
                dtype(optimizer.eps), dtype(lr / (1 - optimizer.beta1**t)),
            )  # fmt: skip
            return True
        if update is RMSprop._update:
            kernels.rmsprop(
                vector, gradient, state["v"], starts, stops, decays, dtype(lr),
                dtype(optimizer.rho), dtype(1 - optimizer.rho), dtype(optimizer.eps),
            )  # fmt: skip
            return True
        if update is Adagrad._update:
            kernels.adagrad(
                vector, gradient, state["sum_squares"], starts, stops, decays, dtype(lr),
                dtype(optimizer.eps),
            )  # fmt: skip
            return True
        return False
