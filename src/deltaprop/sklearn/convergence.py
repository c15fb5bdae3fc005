"""When a scikit-learn estimator stops training: no improvement by ``tol`` for a while."""

from __future__ import annotations

import math

import numpy as np

from ..training import Callback


class ConvergenceCheck(Callback):
    """Stop when ``monitor`` has not improved by ``tol`` for ``patience`` epochs in a row.

    With ``restore_best`` the network ends with the parameters of its best epoch.
    """

    def __init__(self, monitor: str, tol: float, patience: int, restore_best: bool):
        self.monitor, self.tol, self.patience = monitor, tol, patience
        self.restore_best = restore_best
        self.best = math.inf
        self.stale_epochs = 0
        self.converged = False
        self.best_parameters: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch, logs, network):
        value = logs[self.monitor]
        self.stale_epochs = self.stale_epochs + 1 if value > self.best - self.tol else 0
        if value < self.best:
            self.best = value
            if self.restore_best:
                self.best_parameters = [p.copy() for p in network.parameters()]
        self.converged = self.stale_epochs >= self.patience
        return self.converged

    def on_train_end(self, network):
        if self.best_parameters is not None:
            for parameter, best in zip(network.parameters(), self.best_parameters):
                parameter[...] = best
