"""One browser tab's run: its data, network, optimizer, generator and what the page shows.

A ``Session`` changes only through its methods, which the server calls one at a time from a
worker thread (never on the event loop). Training goes through ``Network.fit`` on slices of one
permutation per epoch, drawn from the network's own generator as ``fit`` draws it, so steps,
epochs and play give the weights one ``fit`` call over the same epochs gives.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import DivergenceError, ValidationError
from ..explain import explain
from ..io import save
from ..network import Network
from ..optimizers import get_optimizer
from .config import Config
from .datasets import Dataset, make_dataset
from .equations import step_phases, unit_equations
from .features import input_features, input_names
from .maps import OUTPUT_GRID, UNIT_GRID, encode, plane_inputs, unit_outputs
from .snippet import python_snippet
from .upload import parse_csv, view_bounds

MAX_CURVE = 600  # points kept per curve; older ones are thinned to every other
DATA_FIELDS = ("dataset", "n_points", "noise", "train_ratio", "data_seed", "shown")
NETWORK_FIELDS = ("features", "hidden", "activation", "loss", "dropout", "seed")


class Session:
    """The state of one tab. ``config`` and the upload define it; the rest follows."""

    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        self.upload: tuple[str, str] | None = None  # (file name, text) of the user's CSV
        self.message = ""  # shown in the page: a divergence, a rejected upload
        self._load_data()
        self._build()

    # ------------------------------------------------------------------ building
    def _load_data(self) -> None:
        config = self.config
        if config.dataset == "csv":
            if self.upload is None:
                raise ValidationError("dataset 'csv' needs an uploaded file first")
            data = parse_csv(self.upload[1], self.upload[0], config.train_ratio, config.data_seed)
            if max(config.shown) >= data.n_columns:
                config.shown = [0, 1]
            data.shown = tuple(config.shown)
            data.bounds = view_bounds(data.x_train, data.shown)
        else:
            data = make_dataset(
                config.dataset, config.n_points, config.noise, config.train_ratio, config.data_seed
            )
        self.data: Dataset = data
        self.selected = 0  # index into the training samples, then the test samples

    def _build(self) -> None:
        """A fresh network and optimizer for the current data and configuration."""
        config, data = self.config, self.data
        if config.is_classification != data.is_classification:
            raise ValidationError(
                f"loss {config.loss!r} does not fit this data: use "
                + ("binary_cross_entropy or cross_entropy" if data.is_classification else "mse")
            )
        if config.loss == "binary_cross_entropy" and data.n_classes > 2:
            raise ValidationError(
                f"binary_cross_entropy has one output for two classes; this data has "
                f"{data.n_classes}: use cross_entropy"
            )
        # everything that can fail comes first: a refused configuration changes nothing
        x_train = input_features(data.x_train, config.features, data.shown)
        output, n_out = {
            "binary_cross_entropy": ("sigmoid", 1),
            "cross_entropy": ("softmax", data.n_classes),
        }.get(config.loss, ("identity", 1))
        network = Network.from_sizes(
            [x_train.shape[1], *config.hidden, n_out],
            hidden=config.activation,
            output=output,
            loss=config.loss,
            seed=config.seed,
            dropout=config.dropout,
        )
        optimizer = get_optimizer(config.optimizer, lr=config.lr, weight_decay=config.l2)
        self.x_train, self.network, self.optimizer, self.output = (
            x_train,
            network,
            optimizer,
            output,
        )
        self.x_test = input_features(data.x_test, config.features, data.shown)
        self.inputs = input_names(config.features, data.columns, data.shown)
        self.epoch, self.steps, self.position = 0, 0, 0
        self.order = np.arange(len(self.x_train))
        self.curve: list[list[float]] = []
        self.grad_flow: list[list[float]] = []
        self.diverged = False
        self._plane_output = plane_inputs(data, config.features, OUTPUT_GRID)
        self._plane_units = plane_inputs(data, config.features, UNIT_GRID)
        self._record_curve()

    def configure(self, changes: dict, reload: bool = False) -> None:
        """Apply validated ``changes``; a change of data or network starts a fresh run, a change
        of the optimizer a fresh optimizer, and of lr or L2 only those (training goes on).
        ``reload`` reloads the data and starts a fresh run even when no field changed (a new
        upload under the same configuration)."""
        previous = self.config
        config = Config.from_dict(changes, previous)
        changed = {name for name in changes if getattr(previous, name) != getattr(config, name)}
        if reload:
            changed.add("dataset")
        self.config = config
        try:
            if changed & set(DATA_FIELDS):
                self._load_data()
            if changed & set(DATA_FIELDS + NETWORK_FIELDS):
                self._build()
            elif "optimizer" in changed:
                self.optimizer = get_optimizer(
                    config.optimizer, lr=config.lr, weight_decay=config.l2
                )
            else:
                self.optimizer.lr = config.lr
                self.optimizer.weight_decay = config.l2
        except Exception:
            self.config = previous  # a refused change leaves the run as it was
            if changed & set(DATA_FIELDS):
                self._load_data()
            raise
        self.message = ""

    def set_upload(self, name: str, text: str) -> None:
        """Check ``text`` as a CSV and switch to it; a bad file leaves the session unchanged."""
        data = parse_csv(text, name)  # raises DataError naming the problem
        previous, self.upload = self.upload, (name, text)
        try:
            self.configure({"dataset": "csv", "loss": self._loss_for(data)}, reload=True)
        except Exception:
            self.upload = previous
            if self.config.dataset == "csv":  # configure restored the data from the new file
                self._load_data()
            raise

    def _loss_for(self, data: Dataset) -> str:
        """The current loss if it suits ``data``, else the usual one for its kind."""
        if not data.is_classification:
            return self.config.loss if not self.config.is_classification else "mse"
        if data.n_classes > 2:
            return "cross_entropy"
        return self.config.loss if self.config.is_classification else "binary_cross_entropy"

    def reset(self) -> None:
        self._build()
        self.message = ""

    # ------------------------------------------------------------------ training
    def _train_rows(self, n_batches: int) -> int:
        """Train on the next ``n_batches`` batches of this epoch's order; returns the steps."""
        if self.diverged:
            raise DivergenceError(self.message or "training diverged: press reset")
        n, batch = len(self.x_train), min(self.config.batch_size, len(self.x_train))
        if self.position == 0:
            self.order = self.network.rng.permutation(n)  # what fit draws at an epoch's start
        end = min(n, self.position + n_batches * batch)
        rows = self.order[self.position : end]
        try:
            history = self.network.fit(
                self.x_train[rows],
                self.data.y_train[rows],
                epochs=1,
                batch_size=batch,
                optimizer=self.optimizer,
                shuffle=False,
            )
        except DivergenceError as error:
            self._stop(str(error))
        steps = math.ceil(len(rows) / batch)
        self.steps += steps
        self.position = 0 if end == n else end
        self.epoch += end == n
        self.grad_flow.append(history.grad_norms[0])
        del self.grad_flow[:-MAX_CURVE]
        return steps

    def _stop(self, reason: str) -> None:
        """Mark the run diverged with the page's message and raise it."""
        self.diverged = True
        self.message = f"{reason}. Training stopped: press reset to start again."
        raise DivergenceError(self.message) from None

    def step(self) -> None:
        """One mini-batch update."""
        self._train_rows(1)
        self._record_curve()

    def train_epoch(self) -> None:
        """The rest of the current epoch (a whole epoch at its start)."""
        self._train_rows(len(self.x_train))
        self._record_curve()

    def train_for(self, seconds: float) -> None:
        """Train whole batches for about ``seconds`` (at least one batch)."""
        started, chunk = time.perf_counter(), 1
        while True:
            begun = time.perf_counter()
            self._train_rows(chunk)
            took = time.perf_counter() - begun
            left = seconds - (time.perf_counter() - started)
            if left <= 0:
                break
            chunk = max(1, min(int(chunk * left / max(took, 1e-6)), 4 * chunk))
        self._record_curve()

    def next_batch(self) -> np.ndarray:
        """The rows the next step trains on (drawing this epoch's order if it starts)."""
        n, batch = len(self.x_train), min(self.config.batch_size, len(self.x_train))
        if self.position == 0:
            state = self.network.rng.bit_generator.state
            order = self.network.rng.permutation(n)
            self.network.rng.bit_generator.state = state  # _train_rows draws it again
            return order[:batch]
        return self.order[self.position : self.position + batch]

    # ------------------------------------------------------------------ what the page shows
    def _record_curve(self) -> None:
        network, data = self.network, self.data
        train = network.evaluate(self.x_train, data.y_train)
        test = network.evaluate(self.x_test, data.y_test)
        self.last = {
            "loss_train": train["loss"],
            "loss_test": test["loss"],
            "accuracy_train": train.get("accuracy"),
            "accuracy_test": test.get("accuracy"),
        }
        # [step, train loss, test loss, train accuracy, test accuracy]; no accuracy: None
        self.curve.append(
            [self.steps, train["loss"], test["loss"], train.get("accuracy"), test.get("accuracy")]
        )
        if len(self.curve) > MAX_CURVE:
            self.curve = self.curve[: -MAX_CURVE // 2 : 2] + self.curve[-MAX_CURVE // 2 :]

    def update(self) -> dict:
        """The numbers and maps that change with every step."""
        network = self.network
        output = network.forward(self._plane_output)
        if self.data.n_classes > 2:  # the most probable class, shaded by its probability
            output_map = {
                "classes": encode(output.argmax(axis=1), 0, 255),
                **encode(output.max(axis=1), 0, 1),
            }
        elif self.data.is_classification:
            output_map = encode(output[:, -1], 0, 1)
        else:
            output_map = encode(output[:, 0], *self._target_range())
        return {
            "type": "update",
            "epoch": self.epoch,
            "step": self.steps,
            "position": self.position,
            **self.last,
            "curve": self.curve[-1],
            "grad_flow": self.grad_flow[-1] if self.grad_flow else None,
            "weights": [layer.weights.tolist() for layer in network.layers],
            "biases": [layer.bias.tolist() for layer in network.layers],
            "output_map": output_map,
            "unit_maps": [
                [encode(values[:, j]) for j in range(values.shape[1])]
                for values in unit_outputs(network, self._plane_units)
            ],
            "playing": False,
            "message": self.message,
        }

    def _target_range(self) -> tuple[float, float]:
        y = self.data.y_train
        spread = float(np.abs(y).max()) or 1.0
        return -spread, spread

    def state(self) -> dict:
        """Everything the page draws once per run: the data, the layout, the whole curves."""
        data, config = self.data, self.config
        return {
            "type": "state",
            "config": config.to_dict(),
            "upload": self.upload[0] if self.upload else None,
            "task": "classification" if data.is_classification else "regression",
            "n_classes": data.n_classes,
            "class_names": data.class_names,
            "columns": data.columns,
            "inputs": self.inputs,
            "sizes": self.network.sizes,
            "bounds": data.bounds,
            "output_grid": OUTPUT_GRID,
            "unit_grid": UNIT_GRID,
            "train": {"x": _shown(data, data.x_train), "y": data.y_train.tolist()},
            "test": {"x": _shown(data, data.x_test), "y": data.y_test.tolist()},
            "target_range": self._target_range(),
            "input_maps": [encode(self._plane_units[:, k]) for k in range(len(self.inputs))],
            "curves": self.curve,
            "grad_flows": self.grad_flow,
            "selected": self.selected,
        }

    # ------------------------------------------------------------------ backpropagation
    def select(self, x1: float, x2: float) -> None:
        """Pick the sample nearest the plane's point ``(x1, x2)`` (training or test)."""
        points = np.vstack(
            [_points(self.data, self.data.x_train), _points(self.data, self.data.x_test)]
        )
        self.selected = int(np.argmin(((points - [x1, x2]) ** 2).sum(axis=1)))

    def sample(self) -> tuple[str, int, np.ndarray, object]:
        """``(part, index, inputs (n_in,), label)`` of the selected sample."""
        n_train = len(self.x_train)
        if self.selected < n_train:
            return (
                "train",
                self.selected,
                self.x_train[self.selected],
                self.data.y_train[self.selected],
            )
        index = self.selected - n_train
        return "test", index, self.x_test[index], self.data.y_test[index]

    def explain_unit(self, layer: int, unit: int) -> dict:
        """The seed's equations for unit ``unit`` of layer ``layer`` (both from 1, layer L is the
        output) with the selected sample's numbers, from ``deltaprop.explain``."""
        network = self.network
        if not 1 <= layer <= len(network.layers) or not 1 <= unit <= network.sizes[layer]:
            raise ValidationError(f"there is no unit {unit} in layer {layer} of this network")
        part, index, x, y = self.sample()
        record = explain(network, x, y, lr=self.optimizer.current_lr, max_checks=None)
        return {
            "type": "equations",
            "sample": {
                "part": part,
                "index": index,
                "x": [float(v) for v in x],
                "y": float(y),
                "inputs": self.inputs,
            },
            **unit_equations(network, record, layer, unit),
        }

    def step_through(self) -> dict:
        """The next step's forward pass, loss, deltas and SGD update as phases, then the step."""
        rows = self.next_batch()
        record = explain(
            self.network,
            self.x_train[rows],
            self.data.y_train[rows],
            lr=self.optimizer.current_lr,
            max_checks=1,
        )
        phases = step_phases(self.network, record)
        plain_sgd = (
            self.config.optimizer == "sgd" and not self.config.l2 and not self.config.dropout
        )
        self.step()
        return {
            "type": "step_through",
            "phases": phases,
            "batch": len(rows),
            "note": ""
            if plain_sgd
            else (
                "The phases show the plain SGD step W − η∂L/∂W; the run's own optimizer "
                f"({self.config.optimizer}, L2 {self.config.l2:g}, dropout "
                f"{self.config.dropout:g}) made the update that was applied."
            ),
        }

    # ------------------------------------------------------------------ export
    def model_file(self) -> bytes:
        """The network as a ``.safetensors`` model file, written by ``deltaprop.io.save``."""
        if not np.isfinite(self.network.parameter_vector).all():
            raise DivergenceError(
                "this network diverged (its weights are NaN or infinite) and cannot be "
                "exported: press reset, lower the learning rate and train again"
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "playground.safetensors"
            save(self.network, path)
            return path.read_bytes()

    def snippet(self) -> str:
        return python_snippet(self.config, self.network.sizes, self.output, self.epoch)


def _points(data: Dataset, x: np.ndarray) -> np.ndarray:
    return x[:, list(data.shown)]


def _shown(data: Dataset, x: np.ndarray) -> list[list[float]]:
    return np.round(_points(data, x), 5).tolist()
