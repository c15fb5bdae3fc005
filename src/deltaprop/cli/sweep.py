"""``deltaprop sweep``: train one configuration of a grid per worker and tabulate the results."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """\
grid file (TOML; an array is an axis of the grid, anything else is fixed):
  data = "digits"
  epochs = 10
  optimizer = "adam"
  lr = [1e-3, 1e-2]
  layers = ["64", "128,64"]

examples:
  deltaprop sweep --grid grid.toml --out results.csv --out results.md
  deltaprop sweep --grid grid.toml --workers 4
  mpiexec -n 9 deltaprop sweep --grid grid.toml --out results.csv   # 8 workers + 1 coordinator
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="train a grid of configurations in parallel and tabulate the results",
        description=(
            "Train one network per configuration of a grid, each in its own worker process "
            "(the MPI ranks under mpiexec, else a local process pool), test each on the data "
            "set's test split, and print a table of the results."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--grid", required=True, metavar="FILE.toml", help="the grid to train")
    parser.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="FILE",
        help="write the table to FILE.csv or FILE.md, updated as results arrive (repeatable)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes without MPI (default: one per core)",
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    from .. import sweep
    from . import UsageError
    from .common import check_outputs

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    for path in args.out:
        if not path.lower().endswith((".csv", ".md", ".markdown")):
            raise UsageError(f"--out {path}: the table is written as .csv or .md; name it so")
    grid = sweep.read_grid(args.grid)
    configs = sweep.configurations(grid)
    data = sorted({str(config["data"]) for config in configs if config.get("data") is not None})
    check_outputs(
        [("--grid", args.grid), *(("data", name) for name in data)],
        [("--out", path) for path in args.out],
    )
    varied = sweep.axes(grid)
    rows: list = [None] * len(configs)
    done = 0

    def report(index: int, row: dict) -> None:
        nonlocal done
        done += 1
        rows[index] = row
        label = " ".join(f"{name}={configs[index][name]}" for name in varied) or "the grid"
        if "error" in row:
            outcome = f"failed: {row['error']}"
        else:
            score = "test_accuracy" if "test_accuracy" in row else "test_loss"
            value = row[score]
            shown = f"{value:.2%}" if score.endswith("accuracy") else f"{value:.4f}"
            outcome = f"{score} {shown}"
        print(
            f"[{done}/{len(configs)}] {label}: {outcome} ({row['seconds']:.1f}s)",
            file=sys.stderr,
            flush=True,
        )
        for path in args.out:  # rewritten after every result, so a stopped sweep keeps them
            sweep.write_table(path, grid, configs, rows)

    results = sweep.run_sweep(configs, workers=args.workers, on_result=report)
    if results is None:  # an MPI rank that served as a worker
        return 0
    sys.stdout.write(sweep.markdown_table(grid, configs, results))
    failed = sum("error" in row for row in results)
    return 1 if failed == len(results) else 0
