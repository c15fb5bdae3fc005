"""The measured cases: which implementations run which workload, interleaved, how often.

Each case builds one callable per implementation (warm-ups and compilation happen while
building, outside every timing), then calls them in turn, A B C A B C ..., ``rounds`` times.
A result holds each implementation's minimum, median and every time, and for the training
cases the epoch's mean loss (the same from every repetition: the work is deterministic).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import report
import workloads
from blas_limit import EpochProducts
from workloads import MNIST, SEED, TINY, Optim

OPTIMIZERS = {"SGD": Optim("SGD", 0.01), "Adam": Optim("Adam", 1e-3)}
DTYPES = ("float32", "float64")
EPOCH_GRID = [(o, d, b) for o in OPTIMIZERS for d in DTYPES for b in (32, 128, 512)]
QUICK_GRID = [("SGD", "float32", 128), ("Adam", "float64", 32)]
TORCH_COMPILE_ROW = ("SGD", "float32", 128)  # compiling takes a minute: one row
SEED_LR = 3.0  # examples/mnist_sgd.py: the seed's stochastic gradient descent
TINY_BATCH = 10
TARGET_ACCURACY = 0.98
PEER_NAMES = {"jax": "JAX", "torch": "PyTorch", "sklearn": "scikit-learn"}


@dataclass
class Settings:
    quick: bool
    repeats: int  # rounds of the epoch and time-to-accuracy cases
    engines: list[str]  # deltaprop's, e.g. ["numpy", "compiled"]
    peers: list[str]  # installed peers among "jax", "torch", "sklearn"

    @property
    def many(self) -> int:
        """Rounds of the cases that take milliseconds: more, for stable minima."""
        return 3 * max(self.repeats, 3)


def deltaprop_names(settings: Settings) -> list[str]:
    return [f"deltaprop {engine}" for engine in settings.engines]


def timed_rounds(functions: dict, rounds: int) -> dict[str, dict]:
    """Call every function once per round, in turn; each one's times (and loss)."""
    outcomes = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            outcome = function()
            outcomes[name].append(outcome if isinstance(outcome, dict) else {"seconds": outcome})
    return {name: summary(values) for name, values in outcomes.items()}


def summary(outcomes: list[dict]) -> dict:
    seconds = [outcome["seconds"] for outcome in outcomes]
    entry = {"min": min(seconds), "median": statistics.median(seconds), "all": seconds}
    for key in outcomes[0].keys() - {"seconds"}:
        entry[key] = [outcome[key] for outcome in outcomes]
    return entry


def _peer_epochs(spec, optim, X, y, batch_size, settings, sklearn=False) -> dict:
    """The callables of one epoch of ``spec`` for every implementation but the BLAS limit."""
    functions = {
        f"deltaprop {engine}": workloads.DeltapropEpoch(spec, optim, X, y, batch_size, engine)
        for engine in settings.engines
    }
    if "jax" in settings.peers:
        import jax_peer

        functions["JAX"] = jax_peer.Epoch(spec, optim, X, y, batch_size)
    if "torch" in settings.peers:
        import torch_peer

        functions["PyTorch"] = torch_peer.Epoch(spec, optim, X, y, batch_size)
    if sklearn and "sklearn" in settings.peers:
        import sklearn_peer

        functions["scikit-learn"] = sklearn_peer.Epoch(optim, X, y, batch_size)
    return functions


def training_epochs(datasets, settings: Settings) -> list[dict]:
    """One MNIST epoch per implementation, per optimizer, dtype and batch size."""
    rows, limits = [], {}
    for optimizer, dtype, batch_size in QUICK_GRID if settings.quick else EPOCH_GRID:
        (X, y), _ = datasets[dtype]
        if (dtype, batch_size) not in limits:  # the same products for every optimizer
            products = EpochProducts(len(X), batch_size, MNIST.sizes, dtype)
            products.choose_layouts(*((1, 1e6) if settings.quick else (15, 2e8)))
            limits[dtype, batch_size] = products
        optim = OPTIMIZERS[optimizer]
        functions = _peer_epochs(MNIST, optim, X, y, batch_size, settings, sklearn=True)
        compile_row = (optimizer, dtype, batch_size) == TORCH_COMPILE_ROW
        if compile_row and "torch" in settings.peers and not settings.quick:
            import torch_peer

            functions["PyTorch compile"] = torch_peer.Epoch(
                MNIST, optim, X, y, batch_size, compiled=True
            )
        functions["BLAS limit"] = limits[dtype, batch_size].run
        rows.append(
            {
                "optimizer": optimizer,
                "dtype": dtype,
                "batch_size": batch_size,
                "gflop": limits[dtype, batch_size].flops() / 1e9,
                "results": timed_rounds(functions, settings.repeats),
            }
        )
        print(report.epoch_line(rows[-1]), flush=True)
    return rows


def seed_recipe(datasets, settings: Settings) -> dict:
    """The seed's network trained one sample at a time (float32): samples per second."""
    (X, y), _ = datasets["float32"]
    n = 200 if settings.quick else 5000
    X, y = X[:n], y[:n]
    functions = _peer_epochs(SEED, Optim("SGD", SEED_LR), X, y, 1, settings)
    row = {"samples": n, "results": timed_rounds(functions, settings.repeats)}
    print(report.seed_line(row), flush=True)
    return row


def tiny_data(n: int, seed: int = 0):
    """Two classes of points in the square, split by the signs of x₁x₂ (XOR's pattern)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def tiny_network(settings: Settings) -> list[dict]:
    """The 2-8-8-2 tanh network at batch 10 (float32): microseconds per step."""
    X, y = tiny_data(200 if settings.quick else 2000)
    rows = []
    for optimizer in OPTIMIZERS:
        functions = _peer_epochs(TINY, OPTIMIZERS[optimizer], X, y, TINY_BATCH, settings)
        rows.append(
            {
                "optimizer": optimizer,
                "steps": workloads.steps_per_epoch(len(X), TINY_BATCH),
                "results": timed_rounds(functions, settings.many),
            }
        )
        print(report.tiny_line(rows[-1]), flush=True)
    return rows


def inference(datasets, settings: Settings) -> list[dict]:
    """Class probabilities for the whole test set (10,000 samples) in one call."""
    rows = []
    for dtype in DTYPES:
        (X, y), (X_test, _) = datasets[dtype]
        functions = {}
        for engine in settings.engines:
            network = workloads.new_network(MNIST, dtype, engine)
            network.predict_proba(X_test[:10])  # compiles, where the engine does
            functions[f"deltaprop {engine}"] = _inference(network, X_test)
        reference = workloads.new_network(MNIST, dtype)  # the same weights for the peers
        if "jax" in settings.peers:
            import jax_peer

            functions["JAX"] = jax_peer.Inference(reference, X_test)
        if "torch" in settings.peers:
            import torch_peer

            functions["PyTorch"] = torch_peer.Inference(reference, X_test)
        if "sklearn" in settings.peers:
            import sklearn_peer

            model = sklearn_peer.fitted(OPTIMIZERS["SGD"], 128, X[:2000], y[:2000])
            functions["scikit-learn"] = sklearn_peer.Inference(model, X_test)
        rows.append(
            {
                "dtype": dtype,
                "samples": len(X_test),
                "results": timed_rounds(functions, settings.many),
            }
        )
        print(report.inference_line(rows[-1]), flush=True)
    return rows


def _inference(network, X):
    return lambda: workloads.deltaprop_inference(network, X)


def recipes(n: int) -> dict[str, dict]:
    """The two ways to MNIST: what a user tries first (``fit``'s defaults), and ours."""
    return {
        "Adam(lr=1e-3)": {"optim": Optim("Adam", 1e-3), "batch_size": 32, "epochs": 10},
        "Adam(lr=2e-3) + cosine": {
            "optim": Optim("Adam", 2e-3, 8 * workloads.steps_per_epoch(n, 128)),
            "batch_size": 128,
            "epochs": 8,
        },
    }


def time_to_accuracy(datasets, settings: Settings) -> list[dict]:
    """Wall time to the target test accuracy, float32, for each recipe."""
    data = datasets["float32"]
    target = 0.5 if settings.quick else TARGET_ACCURACY
    rows = []
    for name, recipe in recipes(len(data[0][0])).items():
        optim, batch_size, epochs = recipe["optim"], recipe["batch_size"], recipe["epochs"]
        case = (data, optim, batch_size, epochs, target)
        functions = {
            f"deltaprop {engine}": _to_accuracy(case, engine) for engine in settings.engines
        }
        if "jax" in settings.peers:
            import jax_peer

            functions["JAX"] = jax_peer.TimeToAccuracy(*case)
        if "torch" in settings.peers:
            import torch_peer

            functions["PyTorch"] = lambda case=case: torch_peer.time_to_accuracy(*case)
        results = timed_rounds(functions, min(settings.repeats, 3))
        for entry in results.values():
            entry["reached"] = all(accuracy >= target for accuracy in entry["accuracy"])
        rows.append(
            {
                "recipe": name,
                "optimizer": str(optim),
                "batch_size": batch_size,
                "max_epochs": epochs,
                "target": target,
                "results": results,
            }
        )
        print(report.accuracy_line(rows[-1]), flush=True)
    return rows


def _to_accuracy(case, engine):
    return lambda: workloads.deltaprop_time_to_accuracy(*case, engine=engine)
