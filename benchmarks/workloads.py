"""The timed workloads, one function per implementation, each doing the same work.

Every training function trains ``784-256-128-10`` (ReLU, softmax cross-entropy) on the same
rows in the same order (``order``, drawn by deltaprop's generator) from the same initial
weights, and tracks the loss and accuracy of every batch as ``deltaprop.fit`` does. PyTorch
and scikit-learn are imported only when used.
"""

from __future__ import annotations

import copy
import time
import warnings

import numpy as np

import deltaprop as dp

SIZES = [784, 256, 128, 10]


def new_network(dtype: str, seed: int = 0) -> dp.Network:
    return dp.Network.from_sizes(SIZES, dtype=dtype, seed=seed)


def epoch_order(network: dp.Network, n: int, epochs: int = 1) -> list[np.ndarray]:
    """The row orders ``fit`` will draw for its first ``epochs`` epochs (no dropout)."""
    rng = copy.deepcopy(network.rng)
    return [rng.permutation(n) for _ in range(epochs)]


# ---------------------------------------------------------------- deltaprop
def deltaprop_epoch(X, y, batch_size, lr, seed=0) -> float:
    """Seconds of one SGD epoch of ``fit``, as its History records it (the epoch loop)."""
    network = new_network(X.dtype.name, seed)
    history = network.fit(X, y, epochs=1, batch_size=batch_size, optimizer=dp.SGD(lr=lr))
    return history.metrics["time"][0]


def deltaprop_inference(network: dp.Network, X) -> float:
    started = time.perf_counter()
    network.predict_proba(X)
    return time.perf_counter() - started


class StopAtAccuracy(dp.Callback):
    def __init__(self, target: float):
        self.target = target

    def on_epoch_end(self, epoch, logs, network):
        return logs["val_accuracy"] >= self.target


def deltaprop_time_to_accuracy(data, recipe, target, seed=0) -> dict:
    """Wall time of one ``fit`` call that stops once the test accuracy reaches ``target``."""
    (X, y), (X_test, y_test) = data
    network = new_network(X.dtype.name, seed)
    started = time.perf_counter()
    history = network.fit(
        X,
        y,
        epochs=recipe["epochs"],
        batch_size=recipe["batch_size"],
        optimizer=recipe_optimizer(recipe, len(X)),
        validation_data=(X_test, y_test),
        callbacks=[StopAtAccuracy(target)],
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "epochs": history.epochs,
        "accuracy": history.val_accuracy[-1],
    }


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def recipe_optimizer(recipe: dict, n: int) -> dp.Optimizer:
    """Adam with a cosine decay of the learning rate over the recipe's epochs."""
    total = recipe["epochs"] * steps_per_epoch(n, recipe["batch_size"])
    return dp.Adam(lr=recipe["lr"], schedule=dp.CosineDecay(total))


# ---------------------------------------------------------------- PyTorch eager
def torch_model(network: dp.Network):
    """A ``torch.nn.Sequential`` with ``network``'s weights (so the same initial point)."""
    import torch

    modules = []
    for layer in network.layers:
        linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch_dtype(network.dtype))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weights))
            linear.bias.copy_(torch.from_numpy(layer.bias))
        modules += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*modules[:-1])  # logits: cross_entropy applies the softmax


def torch_dtype(dtype):
    import torch

    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


def _torch_train_epoch(model, optimizer, X, y, order, batch_size, scheduler=None):
    import torch

    order = torch.from_numpy(order)
    loss_sum, correct = 0.0, 0
    model.train()
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        xb, yb = X[rows], y[rows]
        output = model(xb)
        loss = torch.nn.functional.cross_entropy(output, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.item() * len(rows)
        correct += int((output.argmax(1) == yb).sum())
    return loss_sum / len(order), correct / len(order)


def torch_epoch(X, y, batch_size, lr, seed=0) -> float:
    """Seconds of one plain-SGD epoch of PyTorch eager, same rows, order and initial weights."""
    import torch

    network = new_network(X.dtype.name, seed)
    (order,) = epoch_order(network, len(X))
    model = torch_model(network)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    started = time.perf_counter()
    _torch_train_epoch(model, optimizer, X_t, y_t, order, batch_size)
    return time.perf_counter() - started


def torch_inference(model, X_t) -> float:
    import torch

    started = time.perf_counter()
    with torch.inference_mode():
        torch.softmax(model(X_t), dim=1)
    return time.perf_counter() - started


def _torch_accuracy(model, X, y, batch_size=1024) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            output = model(X[start : start + batch_size])
            torch.nn.functional.cross_entropy(output, y[start : start + batch_size])
            correct += int((output.argmax(1) == y[start : start + batch_size]).sum())
    return correct / len(X)


def torch_time_to_accuracy(data, recipe, target, seed=0) -> dict:
    """The same recipe in PyTorch eager: Adam, the same cosine schedule per step, same batches."""
    import torch

    (X, y), (X_test, y_test) = data
    network = new_network(X.dtype.name, seed)
    orders = epoch_order(network, len(X), recipe["epochs"])
    model = torch_model(network)
    schedule = recipe_optimizer(recipe, len(X)).schedule
    started = time.perf_counter()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    X_test_t, y_test_t = torch.from_numpy(X_test), torch.from_numpy(y_test)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: schedule(1.0, t))
    accuracies = []
    for order in orders:
        _torch_train_epoch(model, optimizer, X_t, y_t, order, recipe["batch_size"], scheduler)
        accuracies.append(_torch_accuracy(model, X_test_t, y_test_t))
        if accuracies[-1] >= target:
            break
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "epochs": len(accuracies), "accuracy": accuracies[-1]}


# ---------------------------------------------------------------- scikit-learn
def sklearn_classifier(batch_size, lr, max_iter=1):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=tuple(SIZES[1:-1]),
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=batch_size,
        learning_rate_init=lr,
        momentum=0.0,
        nesterovs_momentum=False,
        max_iter=max_iter,
        shuffle=True,
        random_state=0,
        tol=0.0,
        n_iter_no_change=max_iter + 1,
    )


def sklearn_epoch(X, y, batch_size, lr, seed=0) -> float:
    """Seconds of ``MLPClassifier.fit`` with ``max_iter=1``: one plain-SGD epoch."""
    from sklearn.exceptions import ConvergenceWarning

    classifier = sklearn_classifier(batch_size, lr)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, y)
    return time.perf_counter() - started


def sklearn_inference(classifier, X) -> float:
    started = time.perf_counter()
    classifier.predict_proba(X)
    return time.perf_counter() - started


class TorchCompiled:
    """PyTorch with ``torch.compile``d model: compiled once (outside any timing), then timed.

    The warm-up runs batches of every size an epoch uses, so that no epoch compiles; each
    timed epoch restarts from the same initial weights.
    """

    def __init__(self, X, y, batch_size, lr, seed=0):
        import torch

        network = new_network(X.dtype.name, seed)
        (self.order,) = epoch_order(network, len(X))
        self.model = torch.compile(torch_model(network))
        self.initial = [p.detach().clone() for p in self.model.parameters()]
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.batch_size, self.lr = batch_size, lr
        sizes = {batch_size, len(X) % batch_size or batch_size}
        warm_up = np.concatenate([self.order[:size] for size in sorted(sizes)])
        optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        for size in sorted(sizes, reverse=True):
            _torch_train_epoch(self.model, optimizer, self.X, self.y, warm_up[:size], size)

    def epoch(self) -> float:
        import torch

        with torch.no_grad():
            for parameter, initial in zip(self.model.parameters(), self.initial):
                parameter.copy_(initial)
        optimizer = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        started = time.perf_counter()
        _torch_train_epoch(self.model, optimizer, self.X, self.y, self.order, self.batch_size)
        return time.perf_counter() - started
