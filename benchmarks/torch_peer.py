"""The workloads in PyTorch: eager mode, and the model under ``torch.compile``.

Each starts from deltaprop's initial weights, sees the same rows in the same order and tracks
the loss and accuracy of every batch as ``deltaprop.fit`` does (``loss.item()`` per step).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from workloads import MNIST, batch_sizes, epoch_orders, new_network

ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}


def torch_dtype(dtype):
    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


def model_of(network, spec):
    """A ``torch.nn.Sequential`` with ``network``'s weights; it outputs the last layer's z."""
    modules = []
    for layer in network.layers:
        linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch_dtype(network.dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weights))
            linear.bias.copy_(torch.from_numpy(layer.bias))
        modules += [linear, ACTIVATIONS[spec.hidden]()]
    return torch.nn.Sequential(*modules[:-1])


def loss_of(spec, z, y):
    """deltaprop's loss: cross-entropy from the logits, or MSE of sigmoid(z) against one-hot."""
    if spec.loss == "cross_entropy":
        return torch.nn.functional.cross_entropy(z, y)
    targets = torch.nn.functional.one_hot(y, z.shape[1]).to(z.dtype)
    return torch.nn.functional.mse_loss(torch.sigmoid(z), targets)


def optimizer_of(optim, model):
    kind = torch.optim.SGD if optim.name == "SGD" else torch.optim.Adam
    optimizer = kind(model.parameters(), lr=optim.lr)
    scheduler = (
        None
        if optim.cosine_steps is None
        else torch.optim.lr_scheduler.LambdaLR(optimizer, optim.factor)
    )
    return optimizer, scheduler


def train_epoch(spec, model, optimizer, scheduler, X, y, order, batch_size) -> float:
    """One epoch over ``order``; the mean loss of its batches."""
    order = torch.from_numpy(order)
    loss_sum, correct = 0.0, 0
    model.train()
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        xb, yb = X[rows], y[rows]
        output = model(xb)
        loss = loss_of(spec, output, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.item() * len(rows)
        correct += int((output.argmax(1) == yb).sum())
    return loss_sum / len(order)


class Epoch:
    """One epoch of PyTorch eager, or of the ``torch.compile``d model (``compiled=True``).

    The compiled model is compiled once, outside any timing, on batches of every size an
    epoch uses; each timed epoch restarts from the same initial weights.
    """

    def __init__(self, spec, optim, X, y, batch_size, compiled=False):
        network = new_network(spec, X.dtype.name)
        (self.order,) = epoch_orders(network, len(X))
        self.model = model_of(network, spec)
        if compiled:
            self.model = torch.compile(self.model)
        self.initial = [p.detach().clone() for p in self.model.parameters()]
        self.spec, self.optim, self.batch_size = spec, optim, batch_size
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        if compiled:
            for size in batch_sizes(len(X), batch_size):
                optimizer, scheduler = optimizer_of(optim, self.model)
                train_epoch(spec, self.model, optimizer, scheduler, self.X, self.y,
                            self.order[:size], size)  # fmt: skip

    def __call__(self) -> dict:
        with torch.no_grad():
            for parameter, initial in zip(self.model.parameters(), self.initial):
                parameter.copy_(initial)
        optimizer, scheduler = optimizer_of(self.optim, self.model)
        started = time.perf_counter()
        loss = train_epoch(
            self.spec, self.model, optimizer, scheduler, self.X, self.y, self.order,
            self.batch_size,
        )  # fmt: skip
        return {"seconds": time.perf_counter() - started, "loss": loss}


class Inference:
    """Class probabilities for a whole data set in one call, under ``inference_mode``."""

    def __init__(self, network, X):
        self.model, self.X = model_of(network, MNIST), torch.from_numpy(X)

    def __call__(self) -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            torch.softmax(self.model(self.X), dim=1)
        return time.perf_counter() - started


def _accuracy(model, X, y, batch_size=1024) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            output = model(X[start : start + batch_size])
            correct += int((output.argmax(1) == y[start : start + batch_size]).sum())
    return correct / len(X)


def time_to_accuracy(data, optim, batch_size, epochs, target) -> dict:
    """The same recipe as deltaprop's: same weights, batches, optimizer and schedule per step."""
    (X, y), (X_test, y_test) = data
    network = new_network(MNIST, X.dtype.name)
    orders = epoch_orders(network, len(X), epochs)
    model = model_of(network, MNIST)
    started = time.perf_counter()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    X_test_t, y_test_t = torch.from_numpy(X_test), torch.from_numpy(y_test)
    optimizer, scheduler = optimizer_of(optim, model)
    accuracies = []
    for order in orders:
        train_epoch(MNIST, model, optimizer, scheduler, X_t, y_t, order, batch_size)
        accuracies.append(_accuracy(model, X_test_t, y_test_t))
        if accuracies[-1] >= target:
            break
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "epochs": len(accuracies), "accuracy": accuracies[-1]}
