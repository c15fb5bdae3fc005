"""Data parallelism on MPI against BLAS threads, on the same cores: what does a rank buy?

Trains one MNIST network (784-256-128-10, float32, Adam, batches of 128) for a few epochs in
three layouts of the same machine, alternating them so that load from other programs hits
all three alike:

- 1 rank  × 1 BLAS thread   (the baseline),
- 1 rank  × 2 BLAS threads  (one process, threaded matrix products),
- 2 ranks × 1 BLAS thread   (``mpiexec -n 2``: each rank does half of every batch).

It reports the epoch time of each (the fastest epoch of each run, then the median over the
repeats), the scaling efficiency of each 2-core layout against the baseline,
T(1×1) / (2 · T(layout)), and for 2 ranks the time per step spent in the gradient reduction
(scaling + one Allreduce, including waiting for the slower rank) and in a bare Allreduce of
the same buffer.

    python benchmarks/mpi_bench.py                   # MNIST, 2 epochs, 3 repeats
    python benchmarks/mpi_bench.py --data random     # same shapes, random numbers

Run it with the environment's own python (its ``mpiexec`` is found next to it). Timings on a
machine that other programs share are noisy: read the spread, not just the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
LAYOUTS = [(1, 1), (1, 2), (2, 1)]  # (ranks, BLAS threads per rank)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist", help="mnist (default) or random")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--layers", default="256,128")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------------- inside each layout
def load(name: str):
    import numpy as np

    if name == "random":
        rng = np.random.default_rng(0)
        return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)
    from deltaprop.datasets import load as load_dataset

    (x_train, y_train), _ = load_dataset(name)
    return x_train, y_train


def worker(args: argparse.Namespace) -> None:
    import numpy as np

    import deltaprop as dp
    from deltaprop import distributed

    x_train, y_train = load(args.data)
    reduce_seconds = [0.0]
    original_reduce = distributed.Team.reduce

    def timed_reduce(self, *rest):
        started = time.perf_counter()
        result = original_reduce(self, *rest)
        reduce_seconds[0] += time.perf_counter() - started
        return result

    distributed.Team.reduce = timed_reduce
    sizes = [784, *(int(n) for n in args.layers.split(",")), 10]
    network = dp.Network.from_sizes(sizes, seed=0)
    history = network.fit(
        x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, optimizer=dp.Adam(1e-3)
    )
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    report = {
        "epoch_seconds": history.metrics["time"],
        "loss": history.loss[-1],
        "threads": blas_threads(),
        "steps": steps,
        "parameters": network.n_parameters(),
    }
    if distributed.launched_size() > 1:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        buffer = np.ones(network.n_parameters() + 4, dtype=np.float32)
        comm.Barrier()
        started = time.perf_counter()
        for _ in range(200):
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
        bare = (time.perf_counter() - started) / 200
        report |= {
            "reduce_ms_per_step": 1000 * reduce_seconds[0] / steps,
            "allreduce_ms": 1000 * comm.allreduce(bare, op=MPI.MAX),
        }
        if comm.Get_rank() != 0:
            return
    print(json.dumps(report), flush=True)


def blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return max((pool["num_threads"] for pool in threadpool_info()), default=None)


# ---------------------------------------------------------------------- the conductor
def run_layout(ranks: int, threads: int, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    command = [sys.executable, __file__, "--worker", "--data", args.data]
    command += ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    command += ["--layers", args.layers]
    if ranks > 1:
        command = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks), *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{ranks} rank(s) × {threads} thread(s) failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return
    runs: dict[tuple[int, int], list[dict]] = {layout: [] for layout in LAYOUTS}
    for repeat in range(args.repeats):
        for ranks, threads in LAYOUTS:
            report = run_layout(ranks, threads, args)
            runs[(ranks, threads)].append(report)
            print(
                f"repeat {repeat + 1}: {ranks} rank(s) × {threads} thread(s): epochs "
                + ", ".join(f"{s:.2f}s" for s in report["epoch_seconds"])
                + f", final loss {report['loss']:.4f}",
                file=sys.stderr,
                flush=True,
            )
    print_summary(runs, args)


def print_summary(runs: dict, args: argparse.Namespace) -> None:
    # The fastest epoch of a run is the one least disturbed by other programs.
    best = {layout: [min(r["epoch_seconds"]) for r in reports] for layout, reports in runs.items()}
    median = {layout: statistics.median(times) for layout, times in best.items()}
    baseline = median[(1, 1)]
    first = runs[(1, 1)][0]
    print(
        f"\n{args.data}: {first['parameters']:,} parameters, batch {args.batch_size}, "
        f"{first['steps'] // args.epochs} steps per epoch, {args.repeats} repeats, "
        f"{os.cpu_count()} cores\n"
    )
    print("| layout | epoch time (median) | spread over repeats | efficiency vs 1×1 |")
    print("| --- | --- | --- | --- |")
    for (ranks, threads), times in best.items():
        efficiency = baseline / (ranks * threads * median[(ranks, threads)])
        print(
            f"| {ranks} rank(s) × {threads} BLAS thread(s) | {median[(ranks, threads)]:.2f} s | "
            f"{min(times):.2f}–{max(times):.2f} s | {efficiency:.0%} |"
        )
    mpi = runs[(2, 1)]
    reduce_ms = statistics.median(r["reduce_ms_per_step"] for r in mpi)
    bare_ms = statistics.median(r["allreduce_ms"] for r in mpi)
    step_ms = 1000 * median[(2, 1)] / (first["steps"] // args.epochs)
    print(
        f"\n2 ranks: gradient reduction {reduce_ms:.3f} ms per step of {step_ms:.2f} ms "
        f"({reduce_ms / step_ms:.0%}; includes waiting for the slower rank); a bare Allreduce "
        f"of the {first['parameters'] + 4:,}-float buffer takes {bare_ms:.3f} ms.\n"
        f"1 rank × 2 threads vs 2 ranks × 1 thread: "
        f"{median[(1, 2)] / median[(2, 1)]:.2f}× (above 1: the ranks are faster)."
    )


if __name__ == "__main__":
    main()
