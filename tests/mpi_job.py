"""A training job that tests/test_distributed.py runs under ``mpiexec`` (and alone).

``python mpi_job.py CASE OUT_DIR [ENGINE]`` trains the network of ``CASE`` (a name in ``CASES``)
on ``ENGINE`` (default ``auto``) and
writes, per rank, ``OUT_DIR/rank<r>.npz`` with the parameters and the history, or
``OUT_DIR/rank<r>.txt`` with the error that stopped the training. Run without a launcher it
trains alone (``distributed=False``): the reference the ranks must reproduce.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

import deltaprop as dp
from deltaprop.distributed import launched_rank, launched_size


def classification_data(n: int, n_in: int, n_classes: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y % n_classes


def regression_data(n: int, n_in: int, n_out: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    return X, np.tanh(X[:, :n_out] * 0.7 + 0.1)


class SignalOnOneRank(dp.Callback):
    """Rank ``rank`` alone gets SIGTERM after ``epoch``, as a scheduler might deliver it."""

    def __init__(self, rank: int, epoch: int):
        self.rank, self.epoch = rank, epoch

    def on_epoch_end(self, epoch, logs, network):
        if launched_rank() == self.rank and epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)
        return False


class FailOnOneRank(dp.Callback):
    """Rank ``rank`` alone raises after ``epoch``: a bug or a full disk on one node."""

    def __init__(self, rank: int, epoch: int):
        self.rank, self.epoch = rank, epoch

    def on_epoch_end(self, epoch, logs, network):
        if launched_rank() == self.rank and epoch == self.epoch:
            raise RuntimeError(f"injected failure on rank {self.rank}")
        return False


def run(case: str, out: Path, engine: str = "auto") -> None:
    rank = launched_rank()
    options: dict = {"epochs": 4, "shuffle": True, "verbose": 0}
    callbacks: list[dp.Callback] = []
    seed = 7
    if case in ("classify", "interrupt", "fail", "disagree"):
        # 203 rows, batches of 32: the last batch has 11 rows; dropout on both hidden layers.
        X, y = classification_data(203 + 40, 6, 3, seed=1)
        net = dp.Network.from_sizes([6, 16, 8, 3], dropout=0.3, dtype="float64", seed=seed + (
            rank if case == "disagree" else 0), engine=engine)  # fmt: skip
        optimizer = dp.SGD(lr=0.1, momentum=0.9)
        options.update(batch_size=32, validation_split=40 / 243, verbose=2 if rank == 0 else 0)
        if case == "interrupt":
            callbacks.append(SignalOnOneRank(rank=launched_size() - 1, epoch=1))
            options["checkpoint"] = str(out / "checkpoint.safetensors")
        if case == "fail":
            callbacks.append(FailOnOneRank(rank=1, epoch=1))
    elif case == "regress":
        # 194 rows, batches of 32: the last batch has 2 rows, fewer than 3 ranks; mean squared
        # error averages over rows and outputs.
        X, y = regression_data(194, 5, 2, seed=2)
        net = dp.Network.from_sizes(
            [5, 12, 2],
            hidden="tanh",
            output="identity",
            loss="mse",
            dtype="float64",
            seed=seed,
            engine=engine,
        )
        net.layers[0].dropout = 0.2
        optimizer = dp.Adam(lr=0.01)
        options.update(batch_size=32, validation_data=regression_data(7, 5, 2, seed=3))
    elif case in ("other_validation", "other_shuffle"):
        # The same network and training data on every rank; rank 1 alone holds other
        # validation data, or does not shuffle.
        X, y = regression_data(64, 5, 2, seed=2)
        net = dp.Network.from_sizes([5, 4, 2], output="identity", loss="mse", seed=seed)
        optimizer = dp.SGD(lr=0.1)
        odd = rank == 1
        validation_seed = 4 if odd and case == "other_validation" else 3
        options.update(batch_size=16, validation_data=regression_data(8, 5, 2, validation_seed))
        options["shuffle"] = not (odd and case == "other_shuffle")
    else:
        raise SystemExit(f"unknown case {case!r}")
    distributed = None if launched_size() > 1 else False
    try:
        history = net.fit(
            X, y, optimizer=optimizer, callbacks=callbacks, distributed=distributed, **options
        )
    except (dp.TrainingInterrupted, dp.ValidationError) as error:
        (out / f"rank{rank}.txt").write_text(f"{type(error).__name__}: {error}")
        return
    metrics = {k: v for k, v in history.metrics.items() if k != "time"}
    np.savez(
        out / f"rank{rank}.npz",
        *net.parameters(),
        history=json.dumps(metrics),
        rng=json.dumps(net.rng.bit_generator.state),
    )


if __name__ == "__main__":
    run(sys.argv[1], Path(sys.argv[2]), *sys.argv[3:])
