"""Hyperparameter sweeps: train one network per point of a grid, one per worker, and tabulate.

A grid is a TOML file. A value that is an array is an axis of the grid; any other value is
fixed for every configuration::

    data = "digits"             # a data set name or path (deltaprop.datasets.load)
    epochs = 10
    batch_size = 32
    optimizer = "adam"
    lr = [1e-3, 1e-2]           # 2 values
    layers = ["64", "128,64"]   # × 2 hidden-layer layouts = 4 configurations

Each configuration trains in its own worker process, alone (``distributed=False``) with
``cores // workers`` BLAS threads, and is tested on the data set's test split. Under ``mpiexec``
the workers are the MPI ranks (``mpi4py.futures``; rank 0 hands out the work and the other
ranks train); otherwise they are processes of the standard library's ``ProcessPoolExecutor``.
A configuration that fails (diverges, say) gives a row with its error; the others go on.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DeltapropError, MissingDependencyError, ValidationError
from .files import open_regular
from .suggest import closest
from .validation import check_class_count, check_test_split, parse_sizes

# Every option a grid may set: its type(s) and the default used when the grid leaves it out.
OPTIONS: dict[str, tuple[tuple[type, ...], Any]] = {
    "data": ((str,), None),
    "layers": ((str, int), "128"),
    "activation": ((str,), "relu"),
    "dropout": ((float, int), 0.0),
    "init": ((str,), None),
    "dtype": ((str,), "float32"),
    "seed": ((int,), 0),
    "optimizer": ((str,), "sgd"),
    "lr": ((float, int), None),
    "momentum": ((float, int), None),
    "weight_decay": ((float, int), None),
    "clip_norm": ((float, int), None),
    "epochs": ((int,), 10),
    "batch_size": ((int,), 32),
    "validation_split": ((float, int), 0.0),
}
SGD_NAMES = ("sgd", "momentum", "nesterov")
METRICS = (
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "epochs_run",
    "seconds",
    "error",
)


def read_grid(path: str | os.PathLike) -> dict[str, Any]:
    """Read a grid file: ``{option: value or list of values}`` with known options only."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise MissingDependencyError(
                "reading a TOML grid needs Python 3.11 or later, or the tomli package"
            ) from None
    path = Path(path)
    try:
        with open_regular(path, "grid file", ValidationError, missing=DeltapropError) as file:
            grid = tomllib.load(file)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValidationError(f"{path} is not a valid TOML file: {error}") from None
    return check_grid(grid, str(path))


def check_grid(grid: dict[str, Any], origin: str = "grid") -> dict[str, Any]:
    """Return ``grid`` with option names normalized (``batch-size`` → ``batch_size``), checked."""
    checked: dict[str, Any] = {}
    for key, value in grid.items():
        name = key.replace("-", "_")
        if name not in OPTIONS:
            raise ValidationError(
                f"{origin}: unknown option {key!r}{closest(name, OPTIONS)}; options: "
                f"{', '.join(OPTIONS)}"
            )
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValidationError(f"{origin}: {key} = [] gives no configuration: list a value")
        types = OPTIONS[name][0]
        for item in values:
            if isinstance(item, bool) or not isinstance(item, types):
                wanted = " or ".join(t.__name__ for t in types)
                raise ValidationError(f"{origin}: {key} must be a {wanted}, got {item!r}")
        checked[name] = value
    if "data" not in checked:
        raise ValidationError(f'{origin}: say which data to train on, e.g. data = "digits"')
    return checked


def configurations(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the grid's axes (in the file's order), each with the fixed options."""
    axes = {name: values for name, values in grid.items() if isinstance(values, list)}
    fixed = {name: value for name, value in grid.items() if not isinstance(value, list)}
    return [
        {**fixed, **dict(zip(axes, combination))}
        for combination in itertools.product(*axes.values())
    ]


def axes(grid: dict[str, Any]) -> list[str]:
    """The names of the options that vary."""
    return [name for name, values in grid.items() if isinstance(values, list)]


@functools.lru_cache(maxsize=4)
def _load(data: str):
    from .datasets import load

    return load(data)


def parse_layers(layers: str | int) -> list[int]:
    """``"128,64"`` → ``[128, 64]``; ``64`` → ``[64]``; ``""`` → ``[]`` (no hidden layer)."""
    try:
        return parse_sizes(layers)
    except ValidationError as error:
        raise ValidationError(f"layers: {error}") from None


def train_configuration(config: dict[str, Any]) -> dict[str, Any]:
    """Train and test one configuration alone; return its metrics or its ``error``."""
    from .network import Network
    from .optimizers import get_optimizer

    options = {name: config.get(name, default) for name, (_, default) in OPTIONS.items()}
    started = time.perf_counter()
    try:
        (x_train, y_train), (x_test, y_test) = _load(options["data"])
        data = f"data {options['data']}"
        check_test_split(x_train, x_test, y_test, data)
        n_classes = check_class_count(np.concatenate([y_train, y_test]), data)
        sizes = [x_train.shape[1], *parse_layers(options["layers"]), n_classes]
        network = Network.from_sizes(
            sizes,
            hidden=options["activation"],
            dtype=options["dtype"],
            seed=options["seed"],
            dropout=float(options["dropout"]),
            init=options["init"],
        )
        optimizer = get_optimizer(options["optimizer"], **_optimizer_options(options))
        # A diverging configuration's row says so; numpy's overflow warnings would only repeat it.
        with np.errstate(over="ignore", invalid="ignore"):
            history = network.fit(
                x_train,
                y_train,
                epochs=options["epochs"],
                batch_size=options["batch_size"],
                optimizer=optimizer,
                validation_split=float(options["validation_split"]),
                distributed=False,
            )
        test = network.evaluate(x_test, y_test)
    except (DeltapropError, ValueError, FloatingPointError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        return {"error": message, "seconds": time.perf_counter() - started}
    row = {key: values[-1] for key, values in history.metrics.items() if key in METRICS}
    row |= {f"test_{key}": value for key, value in test.items()}
    return row | {"epochs_run": history.epochs, "seconds": time.perf_counter() - started}


def _optimizer_options(options: dict[str, Any]) -> dict[str, float]:
    chosen = {
        name: float(options[name])
        for name in ("lr", "momentum", "weight_decay", "clip_norm")
        if options[name] is not None
    }
    if "momentum" in chosen and str(options["optimizer"]).lower() not in SGD_NAMES:
        raise ValidationError(
            f"momentum applies to sgd only, not {options['optimizer']!r}: remove it from the "
            "grid or sweep it with optimizer = 'sgd'"
        )
    return chosen


# ---------------------------------------------------------------------- running the grid
Report = Callable[[int, dict[str, Any]], None]


def run_sweep(
    configs: Sequence[dict[str, Any]],
    workers: int | None = None,
    on_result: Report | None = None,
    use_mpi: bool | None = None,
) -> list[dict[str, Any]] | None:
    """Train every configuration, one per worker; return their result rows in grid order.

    Parameters
    ----------
    configs : sequence of dict
        From ``configurations(grid)``.
    workers : int, optional
        Worker processes (default: one per core, at most one per configuration). Ignored
        under MPI, where the workers are ranks 1..P-1.
    on_result : callable, optional
        Called as ``on_result(index, row)`` on the coordinating process when a configuration
        finishes, in the order they finish.
    use_mpi : bool, optional
        Default: when launched by ``mpiexec`` with several processes.

    Returns
    -------
    list of dict or None
        ``None`` on the MPI ranks that served as workers.
    """
    from .distributed import launched_size

    if use_mpi is None:
        use_mpi = launched_size() > 1
    rows: list[dict[str, Any] | None] = [None] * len(configs)

    def record(index: int, future: Future) -> None:
        rows[index] = future.result()
        if on_result is not None:
            on_result(index, rows[index])

    if use_mpi:
        if not _run_on_mpi(configs, record):
            return None
    else:
        _run_on_processes(configs, workers, record)
    return rows  # type: ignore[return-value]


def _run_on_mpi(configs, record) -> bool:
    """True on rank 0, which coordinates; the other ranks train until the grid is done."""
    from mpi4py import MPI
    from mpi4py.futures import MPICommExecutor

    from .distributed import limit_blas_threads

    limit_blas_threads(MPI.COMM_WORLD, MPI)
    with MPICommExecutor(MPI.COMM_WORLD, root=0) as executor:
        if executor is None:
            return False
        futures = {executor.submit(train_configuration, c): i for i, c in enumerate(configs)}
        for future in as_completed(futures):
            record(futures[future], future)
    return True


def _run_on_processes(configs, workers, record) -> None:
    import multiprocessing

    cores = os.cpu_count() or 1
    workers = max(1, min(workers or cores, len(configs)))
    threads = max(1, cores // workers)
    # "spawn": a fresh interpreter per worker, safe whatever threads the parent started.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_limit_threads, initargs=(threads,)
    ) as pool:
        futures = {pool.submit(train_configuration, c): i for i, c in enumerate(configs)}
        for future in as_completed(futures):
            record(futures[future], future)


def _limit_threads(threads: int) -> None:
    from .distributed import THREAD_VARIABLES

    if any(os.environ.get(name) for name in THREAD_VARIABLES):
        return  # the user chose
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=threads)


# ---------------------------------------------------------------------- the table
def table_columns(grid: dict[str, Any], rows: Sequence[dict[str, Any] | None]) -> list[str]:
    """``#``, the varied options, then the metrics some row has."""
    present = {key for row in rows if row for key in row}
    return ["#", *axes(grid), *(m for m in METRICS if m in present)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def table_rows(grid, configs, rows) -> list[list[str]]:
    columns = table_columns(grid, rows)
    lines = []
    for index, (config, row) in enumerate(zip(configs, rows)):
        if row is None:
            continue
        values = {"#": index + 1, **config, **row}
        lines.append([_cell(values.get(column)) for column in columns])
    return lines


def csv_table(grid, configs, rows) -> str:
    """The results as CSV, one line per finished configuration, in grid order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table_columns(grid, rows))
    writer.writerows(table_rows(grid, configs, rows))
    return buffer.getvalue()


def markdown_table(grid, configs, rows) -> str:
    """The results as a Markdown table, one line per finished configuration, in grid order."""
    columns = table_columns(grid, rows)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    body = [line(columns), line(["---"] * len(columns))]
    body += [line(cells) for cells in table_rows(grid, configs, rows)]
    return "\n".join(body) + "\n"


def write_table(path: str | os.PathLike, grid, configs, rows) -> None:
    """Write the table as CSV (``.csv``) or Markdown (``.md``), replacing the file atomically."""
    from .io import atomic_write_bytes

    path = Path(path)
    text = markdown_table if path.suffix.lower() in (".md", ".markdown") else csv_table
    atomic_write_bytes(path, text(grid, configs, rows).encode())
