"""Benchmark deltaprop (each engine) against JAX, PyTorch, scikit-learn and the BLAS limit.

    make bench                                  # the full run (under 10 minutes on 2 cores)
    python benchmarks/bench.py --quick          # a smoke test on tiny data (seconds)
    python benchmarks/bench.py --repeats 5      # more repetitions
    python benchmarks/bench.py --baseline old.json   # compare the NumPy engine with a past run

Every comparison runs interleaved (A B C A B C ...) in this one process, several times; the
report gives the minimum and the median of each implementation and the ratios of the minima
(deltaprop / peer: below 1 means deltaprop is faster). The machine may be shared and noisy:
minima and ratios are what count. Peak memory and the compiled engine's first-run compile time
are measured in fresh subprocesses, before this process has loaded anything large.

It writes ``benchmarks/RESULTS.md`` (the tables, the targets of issue 11, the machine, the
versions, the command), ``benchmarks/results.json`` (every number, for ``--baseline``) and
``benchmarks/results.png``. deltaprop runs with every engine it offers; JAX, PyTorch and
scikit-learn are optional (``pip install -e ".[bench]"`` installs them all): a missing one is
skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing
sys.path.insert(0, str(HERE))

import cases  # noqa: E402
import data  # noqa: E402
import fresh_process  # noqa: E402
import machine  # noqa: E402
import numpy as np  # noqa: E402
import report  # noqa: E402
import targets  # noqa: E402
import workloads  # noqa: E402

PEERS = ("jax", "torch", "sklearn")  # the modules; "jax" stands for jax with optax


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings for a smoke test")
    parser.add_argument(
        "--repeats", type=int, help="repetitions (default 3; 5 with --quick, where they are cheap)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="the report")
    parser.add_argument("--json", type=Path, default=HERE / "results.json", help="the numbers")
    parser.add_argument("--plot", type=Path, default=HERE / "results.png", help="the plot")
    parser.add_argument(
        "--baseline", type=Path, help="the results.json of an earlier run on this machine"
    )
    args = parser.parse_args(argv)
    if args.repeats is None:  # tiny sizes: more rounds cost little and steady the minima
        args.repeats = 5 if args.quick else 3
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    for option in ("out", "json", "plot"):  # before minutes of measuring, not after
        folder = getattr(args, option).resolve().parent
        if not folder.is_dir():
            parser.error(f"--{option}: the folder {folder} does not exist; create it first")
    if args.baseline is not None:
        try:
            args.baseline = json.loads(args.baseline.read_text())
        except (OSError, ValueError) as error:
            parser.error(f"--baseline {args.baseline}: not a results.json ({error})")
    return args


def installed_peers() -> list[str]:
    return [
        name
        for name in PEERS
        if machine.installed(name) and (name != "jax" or machine.installed("optax"))
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    settings = cases.Settings(args.quick, args.repeats, workloads.engines(), installed_peers())
    memory_names = cases.deltaprop_names(settings)  # first, while this process is still small
    if not args.quick:
        memory_names += [
            cases.PEER_NAMES[peer] for peer in ("torch", "sklearn") if peer in settings.peers
        ]
    memory = fresh_process.peak_memory(memory_names, args.quick)
    print(report.memory_line(memory), flush=True)
    compiled = "compiled" in settings.engines and not args.quick
    compile_times = fresh_process.compile_times() if compiled else None
    # A smoke test on a machine that other programs share: one thread each, no thread waiting
    # for another (the measurement uses machine.THREADS).
    info = machine.limit_threads(1 if args.quick else machine.THREADS) | machine.describe()
    (X, y), (X_test, y_test), source = data.load(args.quick)
    datasets = {
        "float32": ((X, y), (X_test, y_test)),
        "float64": ((X.astype(np.float64), y), (X_test.astype(np.float64), y_test)),
    }
    print(f"data: {source}, {len(X)} training and {len(X_test)} test samples", flush=True)
    print(f"deltaprop engines: {', '.join(settings.engines)}; peers: {settings.peers}", flush=True)
    results = {
        "machine": info,
        "engines": settings.engines,
        "data": source,
        "samples": (len(X), len(X_test)),
        "repeats": args.repeats,
        "quick": args.quick,
        "command": " ".join(["python", "benchmarks/bench.py", *(argv or sys.argv[1:])]),
        "memory": memory,
        "compile": compile_times,
        "epochs": cases.training_epochs(datasets, settings),
        "seed": cases.seed_recipe(datasets, settings),
        "tiny": cases.tiny_network(settings),
        "inference": cases.inference(datasets, settings),
        "accuracy": cases.time_to_accuracy(datasets, settings),
    }
    results["targets"] = targets.evaluate(results, args.baseline)
    results["seconds"] = time.perf_counter() - started
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    args.out.write_text(report.markdown(results, args.plot))
    plotted = report.plot(results, args.plot)
    print(f"wrote {args.out}, {args.json}" + (f" and {args.plot}" if plotted else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
