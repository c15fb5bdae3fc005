"""``deltaprop train``: build a network, train it on a data set, report test accuracy, save it."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from ..activations import ACTIVATIONS
from ..distributed import add_distributed_option, is_root
from ..engines import ENGINES
from ..errors import DeltapropError, ValidationError
from ..losses import LOSSES
from ..optimizers import OPTIMIZERS
from ..progress import format_logs
from ..schedules import SCHEDULES
from ..validation import check_test_split
from . import UsageError
from .common import (
    add_parser,
    check_finite_results,
    check_outputs,
    choice,
    fraction,
    int_list,
    load_data,
    n_outputs,
    non_negative_float,
    non_negative_int,
    output_activation,
    plots_module,
    positive_float,
    positive_int,
    print_json,
)
from .settings import Option, read_config, resolve

OPTIONS = [
    Option(
        "--data",
        str,
        None,
        "mnist, fashion_mnist, digits, or a path: .npz, .csv or a directory of IDX files",
        "NAME|PATH",
    ),
    Option("--layers", int_list, [256, 128], "hidden layer sizes", "N,N,..."),
    Option("--activation", choice(ACTIVATIONS), "relu", "hidden activation"),
    Option(
        "--output-activation",
        choice(ACTIVATIONS),
        None,
        "output activation (default: softmax for cross_entropy, sigmoid for "
        "binary_cross_entropy, identity otherwise)",
    ),
    Option("--loss", choice(LOSSES), "cross_entropy", "loss function"),
    Option("--optimizer", choice([*OPTIMIZERS, "momentum", "nesterov"]), "adam", "optimizer"),
    Option(
        "--lr",
        positive_float,
        None,
        "learning rate (default: the optimizer's, e.g. 1e-3 for adam, 0.01 for sgd)",
    ),
    Option("--epochs", positive_int, 10, "total number of epochs, also when resuming"),
    Option("--batch-size", positive_int, 128, "samples per update"),
    Option("--seed", non_negative_int, 0, "seed of the initial weights, shuffling and dropout"),
    Option("--out", str, "model.safetensors", "where to save the trained model", "PATH"),
    Option(
        "--validation-split",
        fraction,
        0.0,
        "fraction of the training data (its last rows) held out for validation",
    ),
    Option("--dropout", fraction, 0.0, "dropout probability after each hidden layer"),
    Option("--weight-decay", non_negative_float, None, "L2 penalty on the weights"),
    Option("--momentum", fraction, None, "momentum of --optimizer sgd"),
    Option(
        "--schedule",
        choice(SCHEDULES),
        "constant",
        "learning-rate schedule over the whole run: cosine (to 0), step (x0.1 every "
        "third of the epochs), exponential (to 1%%), inverse_scaling (lr/sqrt(t+1))",
    ),
    Option("--clip-norm", positive_float, None, "clip the global gradient norm to this"),
    Option(
        "--early-stopping",
        positive_int,
        None,
        "stop after this many epochs without a better validation loss and keep the best weights",
        "PATIENCE",
    ),
    Option("--dtype", choice(["float32", "float64"]), "float32", "precision"),
    Option(
        "--engine",
        choice(ENGINES),
        "auto",
        "numpy (the reference code) or compiled (numba kernels, pip install "
        "'deltaprop[fast]'); auto: compiled when numba is installed",
    ),
    Option("--checkpoint", str, None, "write a checkpoint here (and on Ctrl-C)", "PATH"),
    Option("--checkpoint-every", positive_int, 1, "epochs between checkpoints"),
    Option(
        "--resume",
        str,
        None,
        "continue the run saved in this checkpoint; the network, "
        "optimizer and batch size default to the checkpoint's",
        "PATH",
    ),
    Option("--limit", positive_int, None, "train on the first N training samples only", "N"),
    Option("--plots", str, None, "write training plots into this directory", "DIR"),
    Option("--quiet", None, False, "print only the final test result"),
    Option("--json", None, False, "print the history and test metrics as JSON on stdout"),
]
SGD_NAMES = ("sgd", "momentum", "nesterov")

EXAMPLES = [
    "deltaprop train --data mnist --layers 256,128 --optimizer adam --lr 1e-3 --epochs 5 "
    "--out mnist.safetensors",
    "deltaprop train --data digits --layers 64 --epochs 30 --validation-split 0.1 "
    "--early-stopping 5",
    "deltaprop train --data mnist --limit 1000 --epochs 1 --quiet --out small.safetensors",
    "deltaprop train --config run.toml --epochs 20   # flags override the file's values",
    "deltaprop train --data mnist --checkpoint run.ckpt   # Ctrl-C, then:",
    "deltaprop train --data mnist --resume run.ckpt",
]


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "train",
        "train a network on a data set and save it",
        "Train a fully connected network and save it as a .safetensors model file.\n\n"
        "Options can also come from a TOML file (--config): its keys are the option names\n"
        "(dashes or underscores); flags typed on the command line override them. Ctrl-C\n"
        "stops between two steps, writes the checkpoint when --checkpoint is given, and\n"
        "exits with status 130; the --out file is written only when training succeeds.",
        EXAMPLES,
    )
    parser.add_argument("--config", metavar="FILE.toml", help="read options from a TOML file")
    for option in OPTIONS:
        option.add_to(parser)
    add_distributed_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = read_config(args.config, OPTIONS) if args.config else {}
    resume = getattr(args, "resume", None) or config.get("resume")
    from_checkpoint = checkpoint_settings(resume) if resume else {}
    settings = resolve(args, OPTIONS, from_checkpoint, config)
    check_usage(settings)
    check_outputs(
        {"--data": settings["data"], "--config": args.config, "--resume": settings["resume"]},
        {"--checkpoint": settings["checkpoint"], "--out": settings["out"]},
        may_replace=(("--checkpoint", "--resume"),),
    )
    plots = plots_module(settings["plots"]) if settings["plots"] else None

    (x_train, y_train), (x_test, y_test) = load_data(settings["data"])
    if settings["limit"]:
        x_train, y_train = x_train[: settings["limit"]], y_train[: settings["limit"]]
    labels = np.concatenate([y_train, y_test])
    data = f"--data {settings['data']}"
    check_test_split(x_train, x_test, y_test, data)
    n_out = n_outputs(settings["loss"], labels, data)
    try:
        network = build_network(settings, x_train.shape[1], n_out)
        optimizer = build_optimizer(settings, len(x_train))
    except ValidationError as error:  # options that do not go together, e.g. loss and output
        raise UsageError(str(error)) from None
    root = is_root()  # under mpiexec, rank 0 alone prints and writes files
    quiet = settings["quiet"] or not root
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    say(describe(settings, network, optimizer, len(x_train)))

    started = time.perf_counter()
    try:
        # fit reports a NaN or infinite loss itself, as one DivergenceError: no numpy warnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            history = fit(network, x_train, y_train, settings, optimizer, args.distributed)
    except KeyboardInterrupt as stopped:  # TrainingInterrupted, or Ctrl-C before fit took over
        print(f"deltaprop train: {interrupted_message(stopped, settings)}", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - started

    if not root:
        return 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        test = network.evaluate(x_test, y_test)
    check_finite_results(test, f"the test split of {data}")
    network.save(settings["out"])
    if plots is not None:
        Path(settings["plots"]).mkdir(parents=True, exist_ok=True)
        plots.write_training_plots(history, Path(settings["plots"]), network=network)
    report(settings, network, history, test, seconds)
    return 0


def fit(network, x_train, y_train, settings: dict, optimizer, distributed: bool | None):
    return network.fit(
        x_train,
        y_train,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        optimizer=optimizer,
        validation_split=settings["validation_split"],
        callbacks=callbacks(settings),
        verbose=0 if settings["quiet"] else 1,
        checkpoint=settings["checkpoint"],
        checkpoint_every=settings["checkpoint_every"],
        resume=settings["resume"],
        distributed=distributed,
    )


def check_usage(settings: dict) -> None:
    """Refuse combinations of options that cannot work, before any data is loaded."""
    if not settings["data"]:
        raise UsageError("--data is required: mnist, fashion_mnist, digits, or a path")
    if settings["momentum"] is not None and settings["optimizer"] not in SGD_NAMES:
        raise UsageError(
            f"--momentum applies to --optimizer sgd, not {settings['optimizer']}: "
            "drop --momentum or use --optimizer sgd"
        )
    if settings["early_stopping"] and not settings["validation_split"]:
        raise UsageError(
            "--early-stopping watches the validation loss: add --validation-split, e.g. 0.1"
        )
    if settings["checkpoint_every"] != 1 and not settings["checkpoint"]:
        raise UsageError("--checkpoint-every needs --checkpoint PATH")
    if settings["resume"] and not settings["checkpoint"]:
        settings["checkpoint"] = settings["resume"]  # keep checkpointing where it left off


def checkpoint_settings(path: str) -> dict:
    """The network, optimizer and batch size a checkpoint was written with, as settings."""
    from ..io import read_checkpoint

    document, _ = read_checkpoint(path, written_by="--checkpoint")
    try:
        spec = document["architecture"]
        layers = spec["layers"]
        settings = {
            "layers": [layer["n_out"] for layer in layers[:-1]],
            "output_activation": layers[-1]["activation"],
            "loss": spec["loss"],
            "dtype": spec["dtype"],
            "seed": spec["seed"],
            **optimizer_settings(document["optimizer"]),
        }
        if len(layers) > 1:
            settings["activation"] = layers[0]["activation"]
            settings["dropout"] = layers[0]["dropout"]
        if document["position"].get("batch_size"):
            settings["batch_size"] = document["position"]["batch_size"]
    except (KeyError, TypeError, IndexError, AttributeError) as error:
        raise DeltapropError(f"--resume {path} has a malformed architecture ({error!r})") from None
    return settings


def optimizer_settings(saved: dict) -> dict:
    """The optimizer options of a checkpoint's optimizer record (name, lr, momentum, ...)."""
    config = saved.get("config", {})
    settings = {"optimizer": saved["name"], "schedule": saved.get("schedule", "constant")}
    for name in ("lr", "weight_decay", "clip_norm"):
        if config.get(name) is not None:
            settings[name] = config[name]
    if saved["name"] == "sgd" and config.get("momentum"):
        settings["momentum"] = config["momentum"]
        settings["optimizer"] = "nesterov" if config.get("nesterov") else "sgd"
    return settings


def build_network(settings: dict, n_in: int, n_out: int):
    from ..network import Network

    return Network.from_sizes(
        [n_in, *settings["layers"], n_out],
        hidden=settings["activation"],
        output=settings["output_activation"] or output_activation(settings["loss"]),
        loss=settings["loss"],
        dtype=settings["dtype"],
        seed=settings["seed"],
        dropout=settings["dropout"],
        engine=settings["engine"],
    )


def build_optimizer(settings: dict, n_samples: int):
    from ..optimizers import get_optimizer

    options = {
        name: settings[name]
        for name in ("lr", "weight_decay", "clip_norm", "momentum")
        if settings[name] is not None
    }
    n_train = n_samples - round(n_samples * settings["validation_split"])
    steps = settings["epochs"] * math.ceil(n_train / min(settings["batch_size"], max(n_train, 1)))
    options["schedule"] = build_schedule(settings["schedule"], steps, settings["epochs"])
    return get_optimizer(settings["optimizer"], **options)


def build_schedule(name: str, total_steps: int, epochs: int):
    """The schedule ``name`` stretched over a run of ``total_steps`` updates."""
    from .. import schedules

    total_steps = max(total_steps, 1)
    if name == "cosine":
        return schedules.CosineDecay(total_steps)
    if name == "step":
        return schedules.StepDecay(max(1, total_steps // epochs * max(1, epochs // 3)), 0.1)
    if name == "exponential":
        return schedules.ExponentialDecay(0.01, decay_steps=total_steps)
    if name == "inverse_scaling":
        return schedules.InverseScaling(0.5)
    return schedules.Constant()


def callbacks(settings: dict) -> list:
    from ..training import EarlyStopping

    if settings["early_stopping"]:
        return [EarlyStopping(patience=settings["early_stopping"])]
    return []


def describe(settings: dict, network, optimizer, n_samples: int) -> str:
    sizes = "-".join(map(str, network.sizes))
    held_out = round(n_samples * settings["validation_split"])
    validation = f" ({held_out:,} held out for validation)" if held_out else ""
    schedule = "" if settings["schedule"] == "constant" else f" ({settings['schedule']} decay)"
    return (
        f"training {sizes} ({network.n_parameters():,} parameters, {network.dtype.name}, "
        f"{network.engine} engine) on "
        f"{n_samples:,} samples of {settings['data']}{validation} with {optimizer.name} "
        f"lr {optimizer.lr:g}{schedule}, batch {settings['batch_size']}, "
        f"{settings['epochs']} epochs"
    )


def interrupted_message(stopped: BaseException, settings: dict) -> str:
    what = str(stopped) or "interrupted"
    if settings["checkpoint"] and Path(settings["checkpoint"]).exists():
        return (
            f"{what}; checkpoint saved to {settings['checkpoint']}: continue with the same "
            f"command plus --resume {settings['checkpoint']}; {settings['out']} was not written"
        )
    return f"{what}; nothing saved (add --checkpoint PATH to be able to resume)"


def report(settings: dict, network, history, test: dict, seconds: float) -> None:
    if settings["json"]:
        print_json(
            {
                "model": str(settings["out"]),
                "sizes": network.sizes,
                "parameters": network.n_parameters(),
                "epochs": history.epochs,
                "train_seconds": round(seconds, 3),
                "history": history.metrics,
                "test": test,
            }
        )
        return
    print(format_logs({f"test {key}": value for key, value in test.items()}))
    if not settings["quiet"]:
        print(
            f"saved {'-'.join(map(str, network.sizes))} to {settings['out']} "
            f"after {history.epochs} epochs ({seconds:.1f} s of training)"
        )
