"""Benchmark deltaprop against PyTorch eager, scikit-learn and the BLAS limit, in one run.

    make bench                                  # the full run (about 5 minutes on 2 cores)
    python benchmarks/bench.py --quick          # a smoke test on tiny data (seconds)
    python benchmarks/bench.py --repeats 7      # more repetitions

Every comparison runs interleaved (A B C A B C ...) in this one process, several times; the
report gives the minimum and the median of each implementation and the ratios of the minima
(deltaprop / peer: below 1 means deltaprop is faster). The machine may be shared and noisy:
minima and ratios are what count. Peak memory is measured in a fresh subprocess per
implementation, before this process has loaded anything large.

It writes ``benchmarks/RESULTS.md`` (the tables, the machine, the versions, the command) and
``benchmarks/results.png``. PyTorch and scikit-learn are optional: a missing one is skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing

import numpy as np  # noqa: E402

import deltaprop as dp  # noqa: E402

sys.path.insert(0, str(HERE))
import data  # noqa: E402
import report  # noqa: E402
import workloads  # noqa: E402
from blas_limit import EpochProducts  # noqa: E402

THREADS = 2
SGD_LR = 0.01
# The MNIST recipe: Adam, learning rate 2e-3 decayed to 0 by a cosine over 8 epochs, batch 128.
RECIPE = {"optimizer": "adam", "lr": 2e-3, "schedule": "cosine", "epochs": 8, "batch_size": 128}
TARGET_ACCURACY = 0.98
DISPLAY_NAMES = {"deltaprop": "deltaprop", "torch": "PyTorch", "sklearn": "scikit-learn"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings for a smoke test")
    parser.add_argument("--repeats", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="the report")
    parser.add_argument("--plot", type=Path, default=HERE / "results.png", help="the plot")
    parser.add_argument(
        "--memory-child", choices=["deltaprop", "torch", "sklearn"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 7
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def limit_threads(torch: bool = True) -> dict:
    """Two BLAS threads for NumPy (and scikit-learn) and two intra-op threads for PyTorch."""
    info = {"threads": THREADS}
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(THREADS)
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        if blas:
            info["blas"] = (
                f"{blas[0]['internal_api']} {blas[0]['version']}, "
                f"kernel {blas[0].get('architecture')}, {blas[0]['num_threads']} threads"
            )
    except ImportError:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))
    if torch and optional("torch"):
        import torch

        torch.set_num_threads(THREADS)
    return info


def optional(module: str) -> bool:
    """Whether ``module`` is installed (without importing it: see ``memory``)."""
    return importlib.util.find_spec(module) is not None


def timed_rounds(functions: dict, repeats: int) -> dict[str, list[float]]:
    """Call every function once per round, in turn, ``repeats`` rounds; their seconds."""
    seconds = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            seconds[name].append(function())
    return seconds


def summary(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "all": values}


# ---------------------------------------------------------------- the cases
def training_epochs(datasets, args, peers) -> list[dict]:
    """One epoch of plain SGD per implementation, for each batch size and dtype."""
    rows = []
    for dtype in ("float32", "float64"):
        (X, y), _ = datasets[dtype]
        for batch_size in (32, 128, 512):
            products = EpochProducts(len(X), batch_size, workloads.SIZES, dtype)
            products.choose_layouts(*((1, 1e6) if args.quick else (15, 2e8)))
            case = (X, y, batch_size, SGD_LR)
            functions = {
                "deltaprop": partial(workloads.deltaprop_epoch, *case),
                "BLAS limit": products.run,
            }
            if "torch" in peers:
                functions["PyTorch"] = partial(workloads.torch_epoch, *case)
                if (dtype, batch_size) == ("float32", 128) and not args.quick:
                    functions["PyTorch compile"] = workloads.TorchCompiled(*case).epoch
            if "sklearn" in peers:
                functions["scikit-learn"] = partial(workloads.sklearn_epoch, *case)
            seconds = timed_rounds(functions, args.repeats)
            rows.append(
                {
                    "dtype": dtype,
                    "batch_size": batch_size,
                    "gflop": products.flops() / 1e9,
                    "results": {name: summary(values) for name, values in seconds.items()},
                }
            )
            print(report.epoch_line(rows[-1]), flush=True)
    return rows


def inference(datasets, args, peers) -> list[dict]:
    """Predicted probabilities for the whole test set (10,000 samples) in one call."""
    rows = []
    for dtype in ("float32", "float64"):
        (X, y), (X_test, _) = datasets[dtype]
        network = workloads.new_network(dtype)
        functions = {"deltaprop": partial(workloads.deltaprop_inference, network, X_test)}
        if "torch" in peers:
            import torch

            model, X_test_t = workloads.torch_model(network), torch.from_numpy(X_test)
            functions["PyTorch"] = partial(workloads.torch_inference, model, X_test_t)
        if "sklearn" in peers:
            classifier = fitted_sklearn(X[:2000], y[:2000])
            functions["scikit-learn"] = partial(workloads.sklearn_inference, classifier, X_test)
        seconds = timed_rounds(functions, max(args.repeats, 3) * 3)
        rows.append(
            {
                "dtype": dtype,
                "samples": len(X_test),
                "results": {name: summary(values) for name, values in seconds.items()},
            }
        )
        print(report.inference_line(rows[-1]), flush=True)
    return rows


def fitted_sklearn(X, y):
    from sklearn.exceptions import ConvergenceWarning

    classifier = workloads.sklearn_classifier(128, SGD_LR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, y)
    return classifier


def time_to_accuracy(datasets, args, peers, target) -> dict:
    data32 = datasets["float32"]
    functions = {
        "deltaprop": lambda: workloads.deltaprop_time_to_accuracy(data32, RECIPE, target),
    }
    if "torch" in peers:
        functions["PyTorch"] = lambda: workloads.torch_time_to_accuracy(data32, RECIPE, target)
    runs = {name: [] for name in functions}
    for _ in range(max(1, min(args.repeats, 3))):
        for name, function in functions.items():
            runs[name].append(function())
    result = {"target": target, "recipe": RECIPE, "results": {}}
    for name, outcomes in runs.items():
        entry = summary([outcome["seconds"] for outcome in outcomes])
        entry["epochs"] = [outcome["epochs"] for outcome in outcomes]
        entry["accuracy"] = [outcome["accuracy"] for outcome in outcomes]
        entry["reached"] = all(outcome["accuracy"] >= target for outcome in outcomes)
        result["results"][name] = entry
    print(report.accuracy_line(result), flush=True)
    return result


# ---------------------------------------------------------------- peak memory
def memory(args, peers) -> dict:
    """Peak resident memory of training MNIST, each implementation in its own process."""
    results = {}
    for name in ["deltaprop", *peers]:
        command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", name]
        if args.quick:
            command.append("--quick")
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        results[DISPLAY_NAMES[name]] = json.loads(completed.stdout.strip().splitlines()[-1])
    print(report.memory_line(results), flush=True)
    return results


def memory_child(name: str, quick: bool) -> None:
    """Load MNIST as float32, train with the recipe (one epoch for scikit-learn), report RSS."""
    limit_threads(torch=name == "torch")  # importing PyTorch alone costs 200 MiB
    (X, y), (X_test, y_test), _ = data.load(quick)
    loaded = _rss_now()
    recipe = dict(RECIPE, epochs=1) if quick else RECIPE
    if name == "deltaprop":
        workloads.deltaprop_time_to_accuracy(((X, y), (X_test, y_test)), recipe, 1.0)
    elif name == "torch":
        workloads.torch_time_to_accuracy(((X, y), (X_test, y_test)), recipe, 1.0)
    else:
        workloads.sklearn_epoch(X, y, RECIPE["batch_size"], SGD_LR)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    data_mib = (X.nbytes + X_test.nbytes + y.nbytes + y_test.nbytes) / 2**20
    print(
        json.dumps(
            {
                "peak_mib": peak,
                "hwm_mib": _status_mib("VmHWM"),
                "loaded_mib": loaded,
                "data_mib": data_mib,
            }
        )
    )


def _rss_now() -> float:
    """Current resident memory in MiB (from /proc; ru_maxrss where /proc is missing)."""
    current = _status_mib("VmRSS")
    return (
        current
        if current is not None
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )


def _status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status in MiB, or None where there is no /proc.

    VmHWM is this process's own peak since it started. ``ru_maxrss`` can be no lower than
    the parent's peak at the time of the fork (Linux carries it over), which is why the
    parent measures memory before it imports PyTorch or loads any data.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------- the run
def cpu_model() -> str:
    """The CPU's name, family and model, and its widest vector extension (from /proc/cpuinfo)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    flags = fields.get("flags", "").split()
    vectors = next((name for name in ("avx512f", "avx2", "avx") if name in flags), "no AVX")
    return (
        f"{fields.get('model name', platform.machine())} (family {fields.get('cpu family', '?')}, "
        f"model {fields.get('model', '?')}, {vectors.upper().replace('F', '')})"
    )


def machine() -> dict:
    model = cpu_model()
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    versions["deltaprop"] = dp.__version__
    for module in ("torch", "sklearn"):
        if optional(module):
            versions[module] = __import__(module).__version__
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "versions": versions,
        "openblas_env": {
            key: os.environ.get(key, "unset") for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        },
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.quick)
        return 0
    started = time.perf_counter()
    peers = [name for name in ("torch", "sklearn") if optional(name)]
    memory_results = memory(args, peers)  # first, while this process is still small
    info = machine() | limit_threads()
    X, y = None, None
    (X, y), (X_test, y_test), source = data.load(args.quick)
    datasets = {
        "float32": ((X, y), (X_test, y_test)),
        "float64": ((X.astype(np.float64), y), (X_test.astype(np.float64), y_test)),
    }
    print(f"data: {source}, {len(X)} training and {len(X_test)} test samples", flush=True)
    target = 0.5 if args.quick else TARGET_ACCURACY
    results = {
        "machine": info,
        "data": source,
        "samples": (len(X), len(X_test)),
        "repeats": args.repeats,
        "quick": args.quick,
        "command": " ".join(["python", "benchmarks/bench.py", *(argv or sys.argv[1:])]),
        "memory": memory_results,
        "epochs": training_epochs(datasets, args, peers),
        "inference": inference(datasets, args, peers),
        "accuracy": time_to_accuracy(datasets, args, peers, target),
    }
    results["seconds"] = time.perf_counter() - started
    args.out.write_text(report.markdown(results, args.plot))
    plotted = report.plot(results, args.plot)
    print(f"wrote {args.out}" + (f" and {args.plot}" if plotted else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
