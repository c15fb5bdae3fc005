"""What every implementation trains, and deltaprop's side of each timed workload.

A workload is a network (``Spec``), an optimizer (``Optim``), data and a batch size. Each peer
(``torch_peer``, ``jax_peer``, ``sklearn_peer``) implements the same workloads; the PyTorch and
JAX ones start from deltaprop's initial weights and see the same rows in the same order
(``epoch_orders``, drawn by deltaprop's generator as ``fit`` draws them), so their losses agree
with deltaprop's and the report can show that they did the same work.

Every training workload returns ``{"seconds": ..., "loss": ...}``: the time of the loop over the
batches of one epoch and the mean training loss of that epoch over its batches (what
``History.loss`` records).
"""

from __future__ import annotations

import copy
import inspect
import math
import time
from dataclasses import dataclass

import numpy as np

import deltaprop as dp

# A deltaprop from before the compiled engine has no ``engine`` option: its one engine is NumPy.
HAS_ENGINE_OPTION = "engine" in inspect.signature(dp.Network.from_sizes).parameters


@dataclass(frozen=True)
class Spec:
    """A fully connected network: layer sizes, activations and loss, as ``from_sizes`` takes."""

    sizes: tuple[int, ...]
    hidden: str
    output: str
    loss: str

    def __str__(self) -> str:
        return f"{'-'.join(map(str, self.sizes))} {self.hidden}"


# MNIST as the rest of the project trains it.
MNIST = Spec((784, 256, 128, 10), "relu", "softmax", "cross_entropy")
# The seed's network: sigmoid layers and mean squared error on one-hot targets, one sample a step.
SEED = Spec((784, 128, 10), "sigmoid", "sigmoid", "mse")
# A playground-sized network, where the cost of a step is all overhead.
TINY = Spec((2, 8, 8, 2), "tanh", "softmax", "cross_entropy")


@dataclass(frozen=True)
class Optim:
    """Plain SGD or Adam (default hyperparameters) at ``lr``, optionally with a cosine decay."""

    name: str  # "SGD" or "Adam"
    lr: float
    cosine_steps: int | None = None  # the learning rate reaches 0 after this many steps

    def deltaprop(self) -> dp.Optimizer:
        schedule = None if self.cosine_steps is None else dp.CosineDecay(self.cosine_steps)
        return (dp.SGD if self.name == "SGD" else dp.Adam)(lr=self.lr, schedule=schedule)

    def factor(self, step: int) -> float:
        """The learning rate of ``step`` (counted from 0) divided by ``lr``."""
        if self.cosine_steps is None:
            return 1.0
        return dp.CosineDecay(self.cosine_steps)(1.0, step)

    def __str__(self) -> str:
        decay = "" if self.cosine_steps is None else " + cosine"
        return f"{self.name} lr {self.lr:g}{decay}"


def engines() -> list[str]:
    """The engines the installed deltaprop offers, by their resolved names ("numpy" first)."""
    if not HAS_ENGINE_OPTION:
        return ["numpy"]
    offered = []
    for engine in ("numpy", "compiled"):
        try:
            network = dp.Network.from_sizes([2, 2], engine=engine)
        except (dp.DeltapropError, ImportError):  # e.g. the compiled engine without numba
            continue
        offered.append(network.engine)
    return offered


def new_network(spec: Spec, dtype: str, engine: str = "numpy", seed: int = 0) -> dp.Network:
    options = {"engine": engine} if HAS_ENGINE_OPTION else {}
    return dp.Network.from_sizes(
        list(spec.sizes), spec.hidden, spec.output, spec.loss, dtype=dtype, seed=seed, **options
    )


def epoch_orders(network: dp.Network, n: int, epochs: int = 1) -> list[np.ndarray]:
    """The row orders ``fit`` will draw for its first ``epochs`` epochs (no dropout)."""
    rng = copy.deepcopy(network.rng)
    return [rng.permutation(n) for _ in range(epochs)]


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def batch_sizes(n: int, batch_size: int) -> list[int]:
    """The distinct batch sizes of an epoch: the full one and the remainder's, if any."""
    return sorted({batch_size, n % batch_size or batch_size}, reverse=True)


# ---------------------------------------------------------------- deltaprop
class DeltapropEpoch:
    """One epoch of ``Network.fit`` with one engine; its time is what ``History`` records.

    A first, untimed ``fit`` on a few batches of every size compiles (or loads from the disk
    cache) whatever the engine compiles, so that no timed epoch includes it.
    """

    def __init__(self, spec, optim, X, y, batch_size, engine):
        self.spec, self.optim, self.X, self.y = spec, optim, X, y
        self.batch_size, self.engine = batch_size, engine
        for size in batch_sizes(len(X), batch_size):
            network = new_network(spec, X.dtype.name, engine)
            network.fit(X[: 2 * size], y[: 2 * size], epochs=1, batch_size=size,
                        optimizer=optim.deltaprop())  # fmt: skip

    def __call__(self) -> dict:
        network = new_network(self.spec, self.X.dtype.name, self.engine)
        history = network.fit(
            self.X, self.y, epochs=1, batch_size=self.batch_size, optimizer=self.optim.deltaprop()
        )
        return {"seconds": history.metrics["time"][0], "loss": history.loss[0]}


def deltaprop_inference(network: dp.Network, X) -> float:
    started = time.perf_counter()
    network.predict_proba(X)
    return time.perf_counter() - started


class StopAtAccuracy(dp.Callback):
    def __init__(self, target: float):
        self.target = target

    def on_epoch_end(self, epoch, logs, network):
        return logs["val_accuracy"] >= self.target


def deltaprop_time_to_accuracy(data, optim, batch_size, epochs, target, engine="numpy") -> dict:
    """Wall time of one ``fit`` that stops once the test accuracy reaches ``target``.

    Also the training loss before and after (outside the timing): proof that it learned.
    """
    (X, y), (X_test, y_test) = data
    network = new_network(MNIST, X.dtype.name, engine)
    initial_loss = network.evaluate(X, y)["loss"]
    started = time.perf_counter()
    history = network.fit(
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optim.deltaprop(),
        validation_data=(X_test, y_test),
        callbacks=[StopAtAccuracy(target)],
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "epochs": history.epochs,
        "accuracy": history.val_accuracy[-1],
        "initial_loss": initial_loss,
        "final_loss": network.evaluate(X, y)["loss"],
    }
