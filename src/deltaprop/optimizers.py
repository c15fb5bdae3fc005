"""Optimizers: how parameters move, given their gradients.

The seed's stochastic gradient descent is ``W ← W - η ∂L/∂W``; the others keep a little state
per parameter (a velocity, running averages of g and g²) to move better. Every optimizer also
offers L2 weight decay (weight matrices only, not biases), gradient-norm clipping and a
learning-rate schedule. The update rules follow PyTorch's, so results can be compared.

One optimizer object keeps its state across ``fit`` calls: calling ``fit`` again continues.

A network's parameters are views of one vector (``parameters.py``); the state is laid out the
same way, so a step over a network is one pass over a few vectors: NumPy's passes here, or one
fused compiled loop when the network's engine offers it (``compiled.py``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import numpy as np

from . import registry
from .errors import ValidationError
from .parameters import Layout, Parameters, is_packed
from .schedules import Schedule, get_schedule
from .validation import check_fraction, check_positive


class Optimizer:
    """Base class.

    Parameters
    ----------
    lr : float
        Base learning rate η (> 0).
    weight_decay : float, default 0.0
        L2 penalty coefficient λ: adds λW to ∂L/∂W of every weight matrix (AdamW instead
        shrinks W directly, decoupled from the gradient).
    clip_norm : float, optional
        If set, rescales all gradients together so that their global L2 norm is at most this.
    schedule : Schedule, optional
        Learning rate as a function of the update step (default constant).
    """

    name = "optimizer"
    slots: tuple[str, ...] = ()

    def __init__(
        self,
        lr: float,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        schedule: Schedule | None = None,
    ):
        self.lr = check_positive("lr", lr)
        if isinstance(weight_decay, bool) or not (
            isinstance(weight_decay, (int, float)) and 0 <= weight_decay < math.inf
        ):
            raise ValidationError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self.clip_norm = None if clip_norm is None else check_positive("clip_norm", clip_norm)
        self.schedule = get_schedule(schedule)
        self.iterations = 0
        # Per parameter array, views of one vector per slot (``_vectors``) laid out as the
        # network's parameter vector.
        self.state: dict[str, list[np.ndarray]] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._scratch_arrays: dict[int, np.ndarray] = {}
        self._checked_layouts: tuple = (None, None)

    @property
    def current_lr(self) -> float:
        """The learning rate the next update will use."""
        return self.schedule(self.lr, self.iterations)

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Update every array of ``params`` in place from the matching array of ``grads``.

        ``grads[i]`` must have the shape of ``params[i]`` (else ``ValidationError``) and may
        be overwritten. When both are ``Parameters`` (views of one vector each, as
        ``Network.parameters()`` and a training step give), the update is one pass over the
        vectors.
        """
        layout = self._prepare_state(params, grads)
        if self.clip_norm is not None:
            clip_by_global_norm([grads.vector] if layout else grads, self.clip_norm)
        lr = self.current_lr
        if layout is not None:
            self._step_vector(params, grads.vector, lr, layout)
        else:
            for index, (param, grad) in enumerate(zip(params, grads)):
                state = {slot: arrays[index] for slot, arrays in self.state.items()}
                decayed = [slice(None)] if param.ndim == 2 else []
                self._decay_and_update(param, grad, lr, state, self._scratch(index, param), decayed)
        self.iterations += 1

    def prepare_step(self, params: Parameters, grads: Parameters):
        """For an engine that makes the next update in a pass of its own: the learning rate,
        each slot's state vector and the vectors' ``Layout``; None where the update has to be
        ``step`` (gradients to clip, or arrays that are not views of one vector each). Call
        ``step_done`` after making it."""
        layout = self._prepare_state(params, grads)
        if layout is None or self.clip_norm is not None:
            return None
        return self.current_lr, self._vectors, layout

    def step_done(self, steps: int = 1) -> None:
        """Count the update (or ``steps`` updates) that an engine made after ``prepare_step``."""
        self.iterations += steps

    def _step_vector(self, params, gradient: np.ndarray, lr: float, layout: Layout) -> None:
        vector = params.vector
        fused = params.fused_update
        if fused is None or not fused(self, vector, gradient, lr, self._vectors, layout):
            scratch = self._scratch(-1, vector)
            self._decay_and_update(vector, gradient, lr, self._vectors, scratch, layout.decayed)

    def _decay_and_update(self, param, grad, lr, state, scratch, decayed) -> None:
        if self.weight_decay and self._coupled_decay:
            for part in decayed:
                grad[part] += np.multiply(param[part], self.weight_decay, out=scratch[part])
        self._update(param, grad, lr, state, scratch, decayed)

    _coupled_decay = True

    def _update(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        lr: float,
        state: dict[str, np.ndarray],
        scratch: np.ndarray,
        decayed: Sequence[slice],
    ) -> None:
        """Move ``param`` by its gradient ``grad``, which it may overwrite.

        ``param`` is one parameter array or the whole parameter vector; ``state`` maps each
        slot to its array of the same shape, ``scratch`` is a work array of that shape and
        ``decayed`` lists the parts of ``param`` that are weight matrices. Updates work in
        place with ``out=``, on ``grad`` and on ``scratch``, so that a step allocates no
        temporary array the size of a weight matrix.
        """
        raise NotImplementedError

    def _prepare_state(self, params, grads) -> Layout | None:
        """Create the state on the first step; the layout when both lists view one vector."""
        checked_params, checked_grads = self._checked_layouts
        if (
            checked_params is not None
            and getattr(params, "layout", None) is checked_params
            and getattr(grads, "layout", None) is checked_grads
        ):  # the same vectors as the previous step's, which were checked then
            return checked_params
        shapes = [p.shape for p in params]
        if len(grads) != len(shapes) or any(np.shape(g) != s for g, s in zip(grads, shapes)):
            raise ValidationError(
                f"grads must hold one array of each parameter's shape, got shapes "
                f"{[np.shape(g) for g in grads]} for parameters of shapes {shapes}: pass "
                "grads[i] as the gradient of params[i], in the same order"
            )
        packed = is_packed(params) and is_packed(grads) and params.layout == grads.layout
        layout = params.layout if packed else None
        if not self.state and self.slots:
            zeros = [np.zeros(p.shape, dtype=p.dtype) for p in params]
            self._set_state({slot: [z.copy() for z in zeros] for slot in self.slots})
        elif self.state and [s.shape for s in next(iter(self.state.values()))] != shapes:
            raise ValidationError(
                "this optimizer holds state for parameters of other shapes: use a new "
                "optimizer object for a different network"
            )
        self._checked_layouts = (layout, grads.layout) if layout is not None else (None, None)
        return layout

    def _set_state(self, state: dict[str, Sequence[np.ndarray]]) -> None:
        """Pack each slot's arrays into one vector and keep views of it as ``state``."""
        self._vectors, self.state = {}, {}
        self._checked_layouts = (None, None)
        for slot, arrays in state.items():
            arrays = [np.asarray(a) for a in arrays]
            layout = Layout([a.shape for a in arrays])
            self._vectors[slot] = layout.pack(arrays, arrays[0].dtype if arrays else float)
            self.state[slot] = layout.views(self._vectors[slot])

    def _scratch(self, index: int, like: np.ndarray) -> np.ndarray:
        """A work array shaped like parameter ``index`` (-1: the whole vector), kept between
        steps (never saved)."""
        scratch = self._scratch_arrays.get(index)
        if scratch is None or scratch.shape != like.shape or scratch.dtype != like.dtype:
            scratch = self._scratch_arrays[index] = np.empty_like(like)
        return scratch

    def state_dict(self) -> dict:
        """The iteration count and slot arrays (checkpoints save these)."""
        return {"iterations": self.iterations, "state": self.state}

    def load_state_dict(self, state: dict) -> None:
        self.iterations = int(state["iterations"])
        self._set_state(state["state"])

    def __getstate__(self) -> dict:
        # Pickle and deepcopy store each view of a state vector on its own, apart from the
        # vector: keep only the views, from which __setstate__ packs one vector per slot again
        # (else the steps would update vectors that ``state`` no longer views).
        kept = dict(vars(self))
        for name in ("_vectors", "_scratch_arrays", "_checked_layouts"):
            kept.pop(name, None)
        return kept

    def __setstate__(self, state: dict) -> None:
        vars(self).update(state)
        self._scratch_arrays = {}
        self._set_state(self.state)

    def config(self) -> dict:
        """The constructor arguments (without the schedule) that rebuild this optimizer."""
        # The signature, not __init__'s code object: a wrapped __init__ (a decorator with
        # functools.wraps, as mutmut's) keeps its signature but not its code's argument names.
        arguments = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        return {
            argument.name: getattr(self, argument.name)
            for argument in arguments
            if argument.kind in (argument.POSITIONAL_ONLY, argument.POSITIONAL_OR_KEYWORD)
            and argument.name != "schedule"
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


CLIP_EPSILON = 1e-6


def clip_by_global_norm(grads: Sequence[np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so that their joint L2 norm is at most ``max_norm``.

    As PyTorch's ``clip_grad_norm_``: the factor is ``max_norm / (norm + 1e-6)`` when that is
    below 1 (the 1e-6 keeps the division finite). Returns the norm before clipping.
    """
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    factor = max_norm / (norm + CLIP_EPSILON)
    if factor < 1:
        for grad in grads:
            grad *= factor
    return norm


class SGD(Optimizer):
    """Stochastic gradient descent, the seed's rule ``W ← W - η g``, with optional momentum.

    With momentum μ: ``v ← μv + g``, ``W ← W - ηv``; Nesterov uses ``W ← W - η(g + μv)``.
    """

    name = "sgd"
    slots = ("velocity",)

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        schedule: Schedule | None = None,
    ):
        super().__init__(lr, weight_decay, clip_norm, schedule)
        self.momentum = check_fraction("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValidationError("nesterov=True needs momentum > 0, e.g. momentum=0.9")
        self.nesterov = bool(nesterov)
        if self.momentum == 0:
            self.slots = ()

    def _update(self, param, grad, lr, state, scratch, decayed):
        direction = grad
        if self.momentum:
            # v ← μv + g
            velocity = state["velocity"]
            velocity *= self.momentum
            velocity += grad
            if self.nesterov:
                # direction g + μv
                grad += np.multiply(velocity, self.momentum, out=scratch)
            else:
                direction = velocity
        # W ← W - η·direction, with η·direction written over the gradient
        param -= np.multiply(direction, lr, out=grad)


class Adam(Optimizer):
    """Adam: ``m ← β1 m + (1-β1) g``, ``v ← β2 v + (1-β2) g²``, bias-corrected,
    ``W ← W - η m̂ / (√v̂ + ε)``."""

    name = "adam"
    slots = ("m", "v")

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        schedule: Schedule | None = None,
    ):
        super().__init__(lr, weight_decay, clip_norm, schedule)
        self.beta1 = check_fraction("beta1", beta1)
        self.beta2 = check_fraction("beta2", beta2)
        self.eps = check_positive("eps", eps)

    def _update(self, param, grad, lr, state, scratch, decayed):
        m, v = state["m"], state["v"]
        t = self.iterations + 1
        # m ← β1 m + (1-β1) g
        m *= self.beta1
        m += np.multiply(grad, 1 - self.beta1, out=scratch)
        # v ← β2 v + (1-β2) g²   (g is not needed after this: square it in place)
        v *= self.beta2
        grad *= grad
        grad *= 1 - self.beta2
        v += grad
        # η m̂/(√v̂ + ε) with m̂ = m/(1-β1^t), v̂ = v/(1-β2^t), as PyTorch arranges it.
        step_size = lr / (1 - self.beta1**t)
        denominator = np.sqrt(v, out=grad)
        denominator /= math.sqrt(1 - self.beta2**t)
        denominator += self.eps
        update = np.divide(m, denominator, out=scratch)
        update *= step_size
        param -= update


class AdamW(Adam):
    """Adam with decoupled weight decay: ``W ← W - ηλW`` before the Adam step."""

    name = "adamw"
    _coupled_decay = False

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        clip_norm: float | None = None,
        schedule: Schedule | None = None,
    ):
        super().__init__(lr, beta1, beta2, eps, weight_decay, clip_norm, schedule)

    def _update(self, param, grad, lr, state, scratch, decayed):
        if self.weight_decay:
            for part in decayed:
                param[part] *= 1 - lr * self.weight_decay
        super()._update(param, grad, lr, state, scratch, decayed)


class RMSprop(Optimizer):
    """RMSprop: ``v ← ρv + (1-ρ) g²``, ``W ← W - η g / (√v + ε)``."""

    name = "rmsprop"
    slots = ("v",)

    def __init__(
        self,
        lr: float = 1e-3,
        rho: float = 0.9,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        schedule: Schedule | None = None,
    ):
        super().__init__(lr, weight_decay, clip_norm, schedule)
        self.rho = check_fraction("rho", rho)
        self.eps = check_positive("eps", eps)

    def _update(self, param, grad, lr, state, scratch, decayed):
        v = state["v"]
        # v ← ρv + (1-ρ) g²
        v *= self.rho
        square = np.multiply(grad, 1 - self.rho, out=scratch)
        square *= grad
        v += square
        # W ← W - η g/(√v + ε)
        denominator = np.sqrt(v, out=scratch)
        denominator += self.eps
        grad /= denominator
        param -= np.multiply(grad, lr, out=grad)


class Adagrad(Optimizer):
    """Adagrad: ``G ← G + g²``, ``W ← W - η g / (√G + ε)``."""

    name = "adagrad"
    slots = ("sum_squares",)

    def __init__(
        self,
        lr: float = 0.01,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        clip_norm: float | None = None,
        schedule: Schedule | None = None,
    ):
        super().__init__(lr, weight_decay, clip_norm, schedule)
        self.eps = check_positive("eps", eps)

    def _update(self, param, grad, lr, state, scratch, decayed):
        sum_squares = state["sum_squares"]
        # G ← G + g²
        sum_squares += np.multiply(grad, grad, out=scratch)
        # W ← W - η g/(√G + ε)
        denominator = np.sqrt(sum_squares, out=scratch)
        denominator += self.eps
        grad /= denominator
        param -= np.multiply(grad, lr, out=grad)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)
}


def get_optimizer(optimizer: str | Optimizer | None, **config) -> Optimizer:
    """Return an optimizer for ``None`` (SGD), an instance, or a name plus its arguments."""
    if isinstance(optimizer, str) and optimizer.lower() in ("momentum", "nesterov"):
        config = {"momentum": 0.9, **config, "nesterov": optimizer.lower() == "nesterov"}
        optimizer = "sgd"
    return registry.get(
        "optimizer",
        optimizer,
        OPTIMIZERS,
        Optimizer,
        config,
        example="adam",
        default="sgd",
        also_known=("momentum", "nesterov"),
    )
