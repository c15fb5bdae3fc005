"""The measurements that need a fresh process: peak memory, and the compiled engine's first run.

    python benchmarks/fresh_process.py memory "deltaprop numpy" [--quick]
    python benchmarks/fresh_process.py compile

Each prints one JSON line; ``bench.py`` starts them (``peak_memory``, ``compile_times``) before
it loads anything large itself, since a child inherits no memory but Linux carries the
parent's peak at the time of the fork into ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import data  # noqa: E402
import workloads  # noqa: E402
from workloads import MNIST, SEED, TINY, Optim  # noqa: E402


def _run(*arguments: str, env: dict | None = None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- peak memory
def peak_memory(names: list[str], quick: bool) -> dict[str, dict]:
    """Peak resident memory of training MNIST with the recipe, each in its own process."""
    return {name: _run("memory", name, *(["--quick"] if quick else [])) for name in names}


def memory_child(name: str, quick: bool) -> dict:
    """Load MNIST as float32, train with the recipe (one epoch for scikit-learn), report RSS."""
    import cases
    import machine

    # Importing PyTorch alone costs 200 MiB: only its own child does.
    machine.limit_threads(1 if quick else machine.THREADS, torch=name == "PyTorch")
    (X, y), (X_test, y_test), _ = data.load(quick)
    loaded = _status_mib("VmRSS")
    recipe = cases.recipes(len(X))["Adam(lr=2e-3) + cosine"]
    case = ((X, y), (X_test, y_test)), recipe["optim"], recipe["batch_size"]
    epochs = 1 if quick else recipe["epochs"]
    if name.startswith("deltaprop "):
        workloads.deltaprop_time_to_accuracy(*case, epochs, 1.0, engine=name.split()[1])
    elif name == "PyTorch":
        import torch_peer

        torch_peer.time_to_accuracy(*case, epochs, 1.0)
    else:
        import sklearn_peer

        sklearn_peer.Epoch(cases.OPTIMIZERS["SGD"], X, y, recipe["batch_size"])()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    data_mib = (X.nbytes + X_test.nbytes + y.nbytes + y_test.nbytes) / 2**20
    return {
        "peak_mib": peak,
        "hwm_mib": _status_mib("VmHWM"),
        "loaded_mib": loaded if loaded is not None else peak,
        "data_mib": data_mib,
    }


def _status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status in MiB (VmHWM: this process's own peak), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------- compile time
def compile_times() -> dict:
    """Seconds the compiled engine spends compiling, in a first run and in a later one.

    Two fresh processes share an empty cache folder (``NUMBA_CACHE_DIR`` and
    ``XDG_CACHE_HOME`` point into it): the first compiles and fills the cache, the second
    should find everything there. Each trains every workload of the benchmark on a few rows
    with the compiled and then the NumPy engine; the difference is the compiling.
    """
    with tempfile.TemporaryDirectory(prefix="deltaprop-bench-cache-") as folder:
        env = dict(os.environ, NUMBA_CACHE_DIR=folder, XDG_CACHE_HOME=folder)
        first, later = _run("compile", env=env), _run("compile", env=env)
    return {"first_s": first["compile_s"], "later_s": later["compile_s"]}


def compile_child() -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    seconds = {}
    for engine in ("compiled", "numpy"):
        started = time.perf_counter()
        for spec, optimizers, batch_size in (
            (MNIST, ("SGD", "Adam"), 32),
            (SEED, ("SGD",), 1),
            (TINY, ("SGD", "Adam"), 10),
        ):
            for dtype in ("float32", "float64"):
                X = rng.random((2 * batch_size, spec.sizes[0])).astype(dtype)
                y = rng.integers(0, spec.sizes[-1], len(X))
                for optimizer in optimizers:
                    network = workloads.new_network(spec, dtype, engine)
                    network.fit(X, y, epochs=1, batch_size=batch_size,
                                optimizer=Optim(optimizer, 1e-3).deltaprop())  # fmt: skip
                    network.predict(X)
        seconds[engine] = time.perf_counter() - started
    return {"compile_s": seconds["compiled"] - seconds["numpy"], "seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("measure", choices=["memory", "compile"])
    parser.add_argument("name", nargs="?", help="the implementation (memory)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    result = memory_child(args.name, args.quick) if args.measure == "memory" else compile_child()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
