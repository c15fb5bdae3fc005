"""The fit loop: mini-batches, shuffling, validation, callbacks, history, checkpoints.

One epoch visits every training sample once, in an order drawn from the network's generator,
in mini-batches of ``batch_size`` rows; each batch is one forward pass, one backward pass and one
optimizer update. Everything random comes from ``network.rng``, so the same seed and data give
the same bits, and a checkpoint that stores the generator's state resumes bit-identically.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .activations import Sigmoid
from .distributed import SOLO, team_for
from .errors import DivergenceError, ValidationError
from .history import GRAD_NORM_EVERY, History, Position
from .optimizers import Optimizer, get_optimizer
from .progress import format_logs, progress_bar
from .stopping import StopRequest, TrainingInterrupted
from .validation import (
    all_finite,
    check_callbacks,
    check_fraction,
    check_inputs,
    check_positive,
    check_targets,
)
from .workspace import Workspace

if TYPE_CHECKING:
    from mpi4py.MPI import Comm

    from .network import Network


class Callback:
    """Hooks into ``fit``; ``on_epoch_end`` returns True to stop training."""

    def on_train_begin(self, network: Network) -> None:
        """Called once before the first epoch of this ``fit`` call."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float], network: Network) -> bool:
        """Called after each epoch with that epoch's logs (``epoch`` counts from 0)."""
        return False

    def on_train_end(self, network: Network) -> None:
        """Called once after the last epoch, also when a callback stopped training."""

    def state_dict(self) -> dict:
        """What a checkpoint must keep for a resumed run to behave as an uninterrupted one.

        Values are JSON-ready or lists of arrays; ``load_state_dict`` gets the same back after
        ``on_train_begin`` of the resumed run.
        """
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Losses improve by falling, accuracies (``monitor`` ending in ``"accuracy"``) by rising.
    With ``restore_best_weights`` the network ends with the parameters of its best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ):
        self.monitor = monitor
        self.patience = check_positive("patience", patience, integer=True)
        self.min_delta = float(min_delta)
        self.restore_best_weights = restore_best_weights
        self.maximize = monitor.endswith("accuracy")
        self.best = -math.inf if self.maximize else math.inf
        self.best_epoch = -1
        self.best_parameters: list[np.ndarray] | None = None
        self.stopped_epoch: int | None = None

    def on_train_begin(self, network):
        self.best = -math.inf if self.maximize else math.inf
        self.best_epoch, self.best_parameters, self.stopped_epoch = -1, None, None

    def on_epoch_end(self, epoch, logs, network):
        if self.monitor not in logs:
            raise ValidationError(
                f"EarlyStopping monitors {self.monitor!r}, which this training does not log: "
                "pass validation_data or validation_split > 0"
            )
        value = logs[self.monitor]
        if self.maximize:
            improved = value > self.best + self.min_delta
        else:
            improved = value < self.best - self.min_delta
        if improved:
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_parameters = [p.copy() for p in network.parameters()]
            return False
        if epoch - self.best_epoch >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, network):
        if self.best_parameters is not None:
            for param, best in zip(network.parameters(), self.best_parameters):
                param[...] = best

    def state_dict(self):
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "stopped_epoch": self.stopped_epoch,
            "best_parameters": self.best_parameters,
        }

    def load_state_dict(self, state):
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
        self.stopped_epoch = state["stopped_epoch"]
        best = state["best_parameters"]
        self.best_parameters = None if best is None else [np.array(p) for p in best]


def accuracy(network: Network, output: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of samples classified correctly; ``output`` is ``(N, n_out)``.

    ``targets`` are labels ``(N,)`` or rows ``(N, n_out)`` (one-hot, or 0/1 per sigmoid unit).
    """
    if targets.ndim == 1:
        return int(np.count_nonzero(output.argmax(axis=1) == targets)) / len(targets)
    if isinstance(network.layers[-1].activation, Sigmoid) and network.is_classifier:
        return int(np.count_nonzero((output >= 0.5) == (targets >= 0.5))) / targets.size
    return int(np.count_nonzero(output.argmax(axis=1) == targets.argmax(axis=1))) / len(targets)


def _wants_accuracy(network: Network, y: np.ndarray) -> bool:
    return network.is_classifier or (np.ndim(y) == 1 and network.n_out > 1)


def _evaluate_prepared(
    network: Network, X: np.ndarray, targets: np.ndarray, with_accuracy: bool, batch_size: int
) -> dict[str, float]:
    loss_sum, correct = 0.0, 0.0
    for start in range(0, len(X), batch_size):
        xb, tb = X[start : start + batch_size], targets[start : start + batch_size]
        cache = network.passes.forward(xb)
        loss_sum += float(network.loss.value(cache.zs[-1], cache.output, tb)) * len(xb)
        if with_accuracy:
            correct += accuracy(network, cache.output, tb) * len(xb)
    result = {"loss": loss_sum / len(X)}
    if with_accuracy:
        result["accuracy"] = correct / len(X)
    return result


def evaluate(
    network: Network, X: np.ndarray, y: np.ndarray, batch_size: int = 1024
) -> dict[str, float]:
    """Return ``{"loss": ..., "accuracy": ...}`` on ``X (N, n_in)``, ``y (N,)`` or ``(N, n_out)``.

    Accuracy is included for classifiers and for class-label targets.
    """
    X = check_inputs(X, network.n_in, network.dtype)
    targets = check_targets(y, len(X), network.n_out, network.loss, network.dtype)
    batch_size = check_positive("batch_size", batch_size, integer=True)
    return _evaluate_prepared(network, X, targets, _wants_accuracy(network, y), batch_size)


def _split_validation(X, targets, validation_split, validation_data, network):
    if validation_data is not None:
        if validation_split:
            raise ValidationError("give validation_data or validation_split, not both")
        try:
            X_val, y_val = validation_data
        except (TypeError, ValueError):
            raise ValidationError("validation_data must be a pair (X_val, y_val)") from None
        X_val = check_inputs(X_val, network.n_in, network.dtype)
        t_val = check_targets(y_val, len(X_val), network.n_out, network.loss, network.dtype)
        return X, targets, (X_val, t_val)
    if not validation_split:
        return X, targets, None
    n_val = round(len(X) * validation_split)
    if n_val < 1 or n_val >= len(X):
        raise ValidationError(
            f"validation_split={validation_split} leaves {n_val} of {len(X)} samples for "
            "validation: both parts need at least one sample"
        )
    # The last rows, before any shuffling, as Keras does: the split never depends on the seed.
    return X[:-n_val], targets[:-n_val], (X[-n_val:], targets[-n_val:])


def fit(
    network: Network,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: Optimizer | str | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    validation_split: float = 0.0,
    shuffle: bool = True,
    callbacks: Sequence[Callback] = (),
    verbose: int = 0,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1,
    resume: str | Path | None = None,
    distributed: bool | Comm | None = None,
) -> History:
    """Train ``network`` on ``X (N, n_in)`` and ``y`` (labels ``(N,)`` or ``(N, n_out)``).

    Parameters
    ----------
    epochs : int
        Total number of epochs; when resuming, the epochs already done count towards it.
    batch_size : int
        Rows per update; a batch size larger than the data is clipped to the data size.
    optimizer : Optimizer or str, optional
        Default ``SGD(lr=0.01)``. Pass the same object again to continue training.
    validation_data, validation_split :
        A held-out ``(X_val, y_val)``, or the fraction of the last rows of ``X`` to hold out.
    shuffle : bool
        Draw a new order of the samples every epoch.
    callbacks : sequence of Callback
        For example ``EarlyStopping(patience=3)``.
    verbose : int
        0 silent, 1 a line per epoch and a bar in a terminal or Jupyter (``progress.py``), 2 a
        line per epoch (on stderr).
    checkpoint, checkpoint_every :
        Write a checkpoint file every ``checkpoint_every`` epochs, after the last, when a
        callback stops training and on interruption; it includes the callbacks' state.
    resume : path, optional
        Continue from a checkpoint: the result is bit-identical to an uninterrupted run.
    distributed : bool or mpi4py communicator, optional
        Data-parallel training over the MPI processes this program was started with (each
        takes its share of every batch; the result is that of one process, see
        ``deltaprop.distributed``). By default on when launched by ``mpiexec`` with several
        processes; ``False`` trains alone in each process.

    Returns
    -------
    History
        With ``network.history`` set to the same object.

    Raises
    ------
    DivergenceError
        When a loss or gradient becomes NaN or infinite; the parameters from before that step
        are kept in memory. Also when an update, the last one of a ``fit`` too, overflows the
        parameters: then no finite ones are left, and no checkpoint is written from them.
        The checkpoint file is left as the last epoch boundary wrote it:
        the kept parameters give that non-finite loss by construction, so that earlier
        checkpoint is the one to resume from, with a lower learning rate.
    TrainingInterrupted
        On SIGINT/SIGTERM, between two steps (also after the last one), after writing the
        checkpoint if one was asked for.
    """
    team = team_for(distributed)
    with team.guard():
        return _fit(
            network, X, y, epochs, batch_size, optimizer, validation_data, validation_split,
            shuffle, callbacks, verbose, checkpoint, checkpoint_every, resume, team,
        )  # fmt: skip


def _fit(
    network, X, y, epochs, batch_size, optimizer, validation_data, validation_split, shuffle,
    callbacks, verbose, checkpoint, checkpoint_every, resume, team,
) -> History:  # fmt: skip
    from .io import load_callback_states, load_checkpoint, save_checkpoint

    epochs = check_positive("epochs", epochs, integer=True)
    batch_size = check_positive("batch_size", batch_size, integer=True)
    checkpoint_every = check_positive("checkpoint_every", checkpoint_every, integer=True)
    validation_split = check_fraction("validation_split", validation_split)
    if verbose not in (0, 1, 2, False, True):
        raise ValidationError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    callbacks = check_callbacks(callbacks)
    X = check_inputs(X, network.n_in, network.dtype)
    targets = check_targets(y, len(X), network.n_out, network.loss, network.dtype)
    with_accuracy = _wants_accuracy(network, y)
    X, targets, validation = _split_validation(
        X, targets, validation_split, validation_data, network
    )
    optimizer = get_optimizer(optimizer)
    batch_size = min(batch_size, len(X))
    verbose, checkpoint = team.root_only(verbose, checkpoint)

    history, position = History(), Position(n_samples=len(X), batch_size=batch_size)
    if resume is not None:
        history, position = load_checkpoint(resume, network, optimizer)
        _check_same_run(resume, position, len(X), batch_size)
        position.n_samples, position.batch_size = len(X), batch_size  # older files lack them
    network.history = history
    run = _Run(network, optimizer, X, targets, validation, with_accuracy, batch_size, shuffle)
    run.team = team
    team.start(network, optimizer, X, targets, validation, batch_size, shuffle, verbose)
    for callback in callbacks:
        callback.on_train_begin(network)
    if resume is not None and callbacks:
        load_callback_states(resume, callbacks)

    def save():
        if checkpoint is not None:
            save_checkpoint(checkpoint, network, optimizer, history, position, callbacks)

    stop = team.stop_request()
    try:
        with stop.installed():
            while position.epoch < epochs and not position.stopped:
                try:
                    finished = run.epoch(position, stop, verbose, epochs)
                except DivergenceError as error:
                    _diverged(error, checkpoint)
                if not finished:
                    save()
                    raise TrainingInterrupted(
                        f"training stopped by signal {stop.signal} at epoch {position.epoch + 1}, "
                        f"step {position.step}"
                    )
                logs = run.finish_epoch(position, history, verbose, epochs)
                stopping = any(cb.on_epoch_end(position.epoch, logs, network) for cb in callbacks)
                stopping = team.agree(stopping, network)
                position = Position(
                    epoch=position.epoch + 1,
                    n_samples=len(X),
                    batch_size=batch_size,
                    stopped=stopping,
                )
                if position.epoch % checkpoint_every == 0 or position.epoch == epochs or stopping:
                    save()
            if stop.signal is not None:  # arrived after the last step: still honour it
                save()
                raise TrainingInterrupted(
                    f"training stopped by signal {stop.signal} after epoch {position.epoch}"
                )
    finally:
        for callback in callbacks:
            callback.on_train_end(network)
    return history


def _diverged(error: DivergenceError, checkpoint) -> None:
    """Re-raise ``error``, naming the untouched checkpoint to resume from if there is one."""
    if checkpoint is None or not Path(checkpoint).exists():
        raise error
    raise DivergenceError(
        f"{error}; the last checkpoint {checkpoint} is untouched: resume from it with a lower "
        "learning rate"
    ) from None


def _check_same_run(path, position: Position, n_samples: int, batch_size: int) -> None:
    """Refuse to resume on other data or batches: the saved step and order would not apply."""
    saved = (position.n_samples, position.batch_size)
    if saved != (0, 0) and saved != (n_samples, batch_size):
        raise ValidationError(
            f"{path} was written training on {saved[0]} samples in batches of {saved[1]}, but "
            f"this run has {n_samples} samples in batches of {batch_size}: resume with the same "
            "data, validation split and batch size"
        )


# Samples per call of an engine's train_steps: Ctrl-C, the progress bar and a diverging step
# are seen between calls, so a call should take a small fraction of a second.
SAMPLES_PER_CALL = 4096


class _Run:
    """The state of one ``fit`` call that does not change between epochs."""

    team = SOLO  # fit sets an MPI team when the training is distributed

    def __init__(self, network, optimizer, X, targets, validation, with_accuracy, batch, shuffle):
        self.network, self.optimizer = network, optimizer
        self.X, self.targets, self.validation = X, targets, validation
        self.with_accuracy, self.batch_size, self.shuffle = with_accuracy, batch, shuffle
        self.dropout = any(layer.dropout for layer in network.layers)
        self.x_batch = np.empty((batch, X.shape[1]), dtype=X.dtype)
        self.t_batch = np.empty((batch, *targets.shape[1:]), dtype=targets.dtype)
        # One workspace per batch size (the last batch of an epoch may be smaller), reused by
        # every step: each step's gradients are consumed before the next step overwrites them.
        self.workspaces: dict[int, Workspace] = {}

    def workspace(self, size: int) -> Workspace:
        if size not in self.workspaces:
            network, targets = self.network, self.t_batch[:size]
            self.workspaces[size] = Workspace.for_targets(network.layers, network.dtype, targets)
        return self.workspaces[size]

    def batch(self, order: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows ``(X, targets)`` of ``step``: of those ``order`` puts in it, this rank's."""
        rows = self.team.shard(order[step * self.batch_size : (step + 1) * self.batch_size])
        size = len(rows)
        # Gathering into a preallocated buffer avoids a copy of the whole data set per epoch;
        # mode="clip" (the rows are valid) lets take write into it without a temporary.
        xb = self.X.take(rows, axis=0, out=self.x_batch[:size], mode="clip")
        tb = self.targets.take(rows, axis=0, out=self.t_batch[:size], mode="clip")
        return xb, tb

    # Overflow is reported as a DivergenceError, not as NumPy warnings.
    @np.errstate(over="ignore", invalid="ignore")
    def epoch(self, position: Position, stop: StopRequest, verbose: int, epochs: int) -> bool:
        """Run the remaining steps of ``position.epoch``; False if a stop was requested."""
        network, rng = self.network, self.network.rng
        n = len(self.X)
        self.epoch_started = time.perf_counter()
        resuming = position.epoch_rng_state is not None
        if not resuming:
            position.epoch_rng_state = rng.bit_generator.state
            position.grad_norm_sums = [0.0] * len(network.layers)
        else:  # resuming inside an epoch: redraw its order, then continue the generator
            current = rng.bit_generator.state
            rng.bit_generator.state = position.epoch_rng_state
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if resuming:
            rng.bit_generator.state = current
        n_steps = math.ceil(n / self.batch_size)
        bar = progress_bar(verbose, n_steps, position, epochs)
        parameters = network.parameters()  # views of the parameter vector, for the optimizer
        self.many_steps = True  # until the engine says this fit can have no call of many steps
        while position.step < n_steps:
            if stop.signal is not None:
                bar.close()
                self._check_parameters(position)  # never checkpoint what the last update broke
                return False
            if not self.steps(order, position, parameters):
                self.step(order, position, parameters)
            bar.update(position, self.epoch_started)
        bar.close()
        # Each step checks the loss and gradient before its update, so nothing else would see
        # the last update of an epoch overflow: check what it left, in one pass, here.
        self._check_parameters(position)
        return True

    def step(self, order: np.ndarray, position: Position, parameters) -> None:
        """Train on the batch of step ``position.step`` and count it in ``position``."""
        network, optimizer, step = self.network, self.optimizer, position.step
        xb, tb = self.batch(order, step)
        work = self.workspace(len(xb))
        loss, grads, output, updated = self.team.train_step(
            network, xb, tb, network.rng if self.dropout else None, work, optimizer, parameters
        )
        correct = accuracy(network, output, tb) * len(xb) if self.with_accuracy and len(xb) else 0
        gradient = None if grads is None else work.gradient_list
        loss, gradient, correct, size = self.team.reduce(loss, gradient, correct, len(xb))
        if not updated:  # (an engine updates only what would pass this check)
            self._check_finite(loss, gradient, position.epoch, step)
        if step % GRAD_NORM_EVERY == 0:
            for index, weights_grad in enumerate(gradient[0::2]):
                position.grad_norm_sums[index] += float(np.linalg.norm(weights_grad))
            position.grad_norm_count += 1
        if not updated:
            optimizer.step(parameters, gradient)
        position.loss_sum += loss * size
        position.correct += correct
        position.seen += size
        position.step = step + 1

    def steps(self, order: np.ndarray, position: Position, parameters) -> bool:
        """Train on the full batches from step ``position.step`` on, up to ``SAMPLES_PER_CALL``
        samples, in one call of the engine's where it can (``CompiledEngine.train_steps``);
        False where it made none."""
        size, first = self.batch_size, position.step
        count = min(len(self.X) // size - first, max(SAMPLES_PER_CALL // size, 1))
        if count <= 0 or not self.many_steps:
            return False
        totals = np.array([position.loss_sum, position.correct, *position.grad_norm_sums])
        made = self.team.train_steps(
            self.network, self.X, self.targets, order, range(first, first + count),
            (self.x_batch, self.t_batch), self.workspace(size), self.optimizer, parameters,
            totals, self.with_accuracy,
        )  # fmt: skip
        if made is None:  # (what it depends on changes only between epochs, by a callback)
            self.many_steps = False
            return False
        done, normed = made
        if not done:
            return False
        position.loss_sum, position.correct = float(totals[0]), float(totals[1])
        position.grad_norm_sums = totals[2:].tolist()
        position.grad_norm_count += normed
        position.seen += done * size
        position.step = first + done
        return True

    def _check_parameters(self, position: Position) -> None:
        """Raise when the update of step ``position.step`` left a NaN or infinite parameter."""
        if position.step and not all_finite(self.network.parameter_vector):
            raise self._overflow(f"the update at epoch {position.epoch + 1}, step {position.step}")

    def _check_finite(self, loss: float, gradient, epoch: int, step: int) -> None:
        """``gradient`` is ``[∂L/∂W^1, ∂L/∂b^1, ...]``, views of one vector checked at once."""
        if math.isfinite(loss) and all_finite(gradient.vector):
            return
        if not all_finite(self.network.parameter_vector):
            # Only an update larger than the float range gets here: loss and gradient were
            # finite at the step before, so there are no finite parameters left to keep.
            raise self._overflow(f"the update before epoch {epoch + 1}, step {step + 1}")
        what = "loss" if not math.isfinite(loss) else "gradient"
        raise DivergenceError(
            f"training diverged: the {what} became NaN or infinite at epoch {epoch + 1}, "
            f"step {step + 1}; the parameters from before this step are kept. Lower the "
            "learning rate or clip gradients (clip_norm=1.0)"
        )

    def _overflow(self, update: str) -> DivergenceError:
        """The error for ``update`` (e.g. "the update at epoch 2, step 5") having made the
        parameters non-finite: no finite parameters are left, only the last checkpoint."""
        optimizer = self.optimizer
        lr = optimizer.schedule(optimizer.lr, max(optimizer.iterations - 1, 0))
        return DivergenceError(
            f"training diverged: {update} overflowed the parameters to infinity (learning rate "
            f"{lr:g}); the network is unusable. Lower the learning rate by orders of magnitude "
            "or clip gradients (clip_norm=1.0)"
        )

    def finish_epoch(self, position, history, verbose, epochs) -> dict[str, float]:
        logs = {"loss": position.loss_sum / position.seen}
        if self.with_accuracy:
            logs["accuracy"] = position.correct / position.seen
        if self.validation is not None:
            result = self.team.evaluate(
                _evaluate_prepared, self.network, *self.validation, self.with_accuracy, 1024
            )
            logs.update({f"val_{k}": v for k, v in result.items()})
        logs["lr"] = self.optimizer.current_lr
        logs["time"] = time.perf_counter() - self.epoch_started
        count = max(position.grad_norm_count, 1)
        history.append(logs, [s / count for s in position.grad_norm_sums])
        if verbose:
            print(f"epoch {position.epoch + 1}/{epochs}: {format_logs(logs)}", file=sys.stderr)
        return logs
