"""The MNIST workloads in scikit-learn's ``MLPClassifier``.

It initialises and shuffles by itself (its own generator), so its loss is not comparable
with the others'; an epoch is ``fit`` with ``max_iter=1``, its input checks included.
"""

from __future__ import annotations

import time
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from workloads import MNIST


def classifier(optim, batch_size, max_iter=1) -> MLPClassifier:
    options = (
        {"solver": "sgd", "momentum": 0.0, "nesterovs_momentum": False}
        if optim.name == "SGD"
        else {"solver": "adam"}
    )
    return MLPClassifier(
        hidden_layer_sizes=MNIST.sizes[1:-1],
        activation=MNIST.hidden,
        alpha=0.0,
        batch_size=batch_size,
        learning_rate_init=optim.lr,
        max_iter=max_iter,
        shuffle=True,
        random_state=0,
        tol=0.0,
        n_iter_no_change=max_iter + 1,
        **options,
    )


def fitted(optim, batch_size, X, y) -> MLPClassifier:
    model = classifier(optim, batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


class Epoch:
    def __init__(self, optim, X, y, batch_size):
        self.optim, self.X, self.y, self.batch_size = optim, X, y, batch_size

    def __call__(self) -> dict:
        started = time.perf_counter()
        model = fitted(self.optim, self.batch_size, self.X, self.y)
        return {"seconds": time.perf_counter() - started, "loss": model.loss_}


class Inference:
    def __init__(self, model, X):
        self.model, self.X = model, X

    def __call__(self) -> float:
        started = time.perf_counter()
        self.model.predict_proba(self.X)
        return time.perf_counter() - started
