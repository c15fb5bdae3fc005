"""The workloads in JAX with optax: the whole training step under ``jax.jit``.

The step takes the data set (on the device once, outside any timing) and the indices of its
batch, gathers the batch, computes the loss and its gradient, applies the optax update and adds
the batch's loss and correct count to running sums, all in one compiled function; parameters,
optimizer state and sums are donated so XLA updates them in place. Each batch size is compiled
once before any timing (as ``torch.compile`` is), and the sums are read once per epoch.

The parameters start as deltaprop's (``W`` of shape ``(n_out, n_in)``, ``Z = A Wᵀ + b``), the
rows come in deltaprop's order, the losses are deltaprop's: the losses agree.
"""

from __future__ import annotations

import time
from functools import partial

import jax

# The float64 rows need 64-bit arrays; every array here has an explicit dtype.
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from workloads import MNIST, batch_sizes, epoch_orders, new_network  # noqa: E402

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid}


def parameters_of(network) -> list[tuple[jax.Array, jax.Array]]:
    return [(jnp.asarray(layer.weights), jnp.asarray(layer.bias)) for layer in network.layers]


def last_z(spec, parameters, X):
    """The last layer's ``z (N, n_out)``: ``A^l = σ(A^(l-1) W^lᵀ + b^l)`` below it."""
    A = X
    for W, b in parameters[:-1]:
        A = ACTIVATIONS[spec.hidden](A @ W.T + b)
    W, b = parameters[-1]
    return A @ W.T + b


def loss_of(spec, parameters, X, y):
    """deltaprop's loss of labels ``y (N,)``, and ``z`` for the accuracy."""
    z = last_z(spec, parameters, X)
    if spec.loss == "cross_entropy":
        log_p = jax.nn.log_softmax(z)
        loss = -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))
    else:  # mse of the output activation against one-hot rows
        targets = jax.nn.one_hot(y, z.shape[1], dtype=z.dtype)
        loss = jnp.mean((ACTIVATIONS[spec.output](z) - targets) ** 2)
    return loss, z


def transformation(optim) -> optax.GradientTransformation:
    lr = optim.lr
    if optim.cosine_steps is not None:
        steps = optim.cosine_steps

        def lr(count):  # deltaprop's CosineDecay: η (1 + cos(π min(t, T)/T)) / 2
            return optim.lr * (1 + jnp.cos(jnp.pi * jnp.minimum(count, steps) / steps)) / 2

    return optax.sgd(lr) if optim.name == "SGD" else optax.adam(lr)


def compiled_step(spec, optimizer):
    """The jitted step: ``(parameters, state, sums, X, y, rows) -> (parameters, state, sums)``."""

    def step(parameters, state, sums, X, y, rows):
        xb = jnp.take(X, rows, axis=0, mode="clip")  # the rows are valid: no bounds checks
        yb = jnp.take(y, rows, axis=0, mode="clip")
        (loss, z), grads = jax.value_and_grad(partial(loss_of, spec), has_aux=True)(
            parameters, xb, yb
        )
        updates, state = optimizer.update(grads, state, parameters)
        parameters = optax.apply_updates(parameters, updates)
        loss_sum, correct = sums
        sums = (
            loss_sum + loss * rows.shape[0],
            correct + jnp.sum(jnp.argmax(z, 1) == yb, dtype=jnp.int32),
        )
        return parameters, state, sums

    return jax.jit(step, donate_argnums=(0, 1, 2))


class Trainer:
    """deltaprop's initial weights and row orders for ``spec``, and the jitted step."""

    def __init__(self, spec, optim, X, y, batch_size, epochs=1):
        network = new_network(spec, X.dtype.name)
        self.orders = [order.astype(np.int32) for order in epoch_orders(network, len(X), epochs)]
        self.initial = [(layer.weights.copy(), layer.bias.copy()) for layer in network.layers]
        self.spec, self.batch_size, self.dtype = spec, batch_size, X.dtype
        self.X, self.y = jnp.asarray(X), jnp.asarray(y.astype(np.int32))
        self.optimizer = transformation(optim)
        self.step = compiled_step(spec, self.optimizer)
        for size in batch_sizes(len(X), batch_size):  # compile every batch size now
            self.start()
            self.run(self.orders[0][:size])

    def start(self) -> None:
        """Back to the initial weights and a fresh optimizer state."""
        # Fresh buffers from NumPy copies: the step donates them (and XLA may alias NumPy's).
        self.parameters = [(jnp.asarray(W.copy()), jnp.asarray(b.copy())) for W, b in self.initial]
        self.state = self.optimizer.init(self.parameters)

    def run(self, order) -> float:
        """Train on the rows ``order`` in batches; their mean loss (waits for the result)."""
        sums = (jnp.zeros((), self.dtype), jnp.zeros((), jnp.int32))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            self.parameters, self.state, sums = self.step(
                self.parameters, self.state, sums, self.X, self.y, rows
            )
        return float(sums[0]) / len(order)


class Epoch(Trainer):
    def __call__(self) -> dict:
        self.start()
        started = time.perf_counter()
        loss = self.run(self.orders[0])
        return {"seconds": time.perf_counter() - started, "loss": loss}


@partial(jax.jit, static_argnums=0)
def _probabilities(spec, parameters, X):
    return jax.nn.softmax(last_z(spec, parameters, X))


class Inference:
    """Class probabilities for a whole data set in one jitted call (compiled beforehand)."""

    def __init__(self, network, X):
        self.parameters, self.X = parameters_of(network), jnp.asarray(X)
        self()

    def __call__(self) -> float:
        started = time.perf_counter()
        _probabilities(MNIST, self.parameters, self.X).block_until_ready()
        return time.perf_counter() - started


@partial(jax.jit, static_argnums=0)
def _correct(spec, parameters, X, y):
    return jnp.sum(jnp.argmax(last_z(spec, parameters, X), 1) == y)


class TimeToAccuracy(Trainer):
    """The time-to-accuracy recipe, its step and the test accuracy compiled beforehand."""

    def __init__(self, data, optim, batch_size, epochs, target):
        (X, y), (X_test, y_test) = data
        super().__init__(MNIST, optim, X, y, batch_size, epochs)
        self.X_test, self.y_test = jnp.asarray(X_test), jnp.asarray(y_test.astype(np.int32))
        self.target = target
        self.accuracy()

    def accuracy(self) -> float:
        return int(_correct(MNIST, self.parameters, self.X_test, self.y_test)) / len(self.y_test)

    def __call__(self) -> dict:
        self.start()
        started = time.perf_counter()
        accuracies = []
        for order in self.orders:
            self.run(order)
            accuracies.append(self.accuracy())
            if accuracies[-1] >= self.target:
                break
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "epochs": len(accuracies), "accuracy": accuracies[-1]}
