"""The benchmark's report: progress lines, ``RESULTS.md`` and the plot."""

from __future__ import annotations

import datetime
from pathlib import Path

from targets import peers_of, ratio_text, time_ratio

# Columns in this order wherever an implementation appears.
ORDER = (
    "deltaprop numpy",
    "deltaprop compiled",
    "JAX",
    "PyTorch",
    "PyTorch compile",
    "scikit-learn",
    "BLAS limit",
)
HEADINGS = {"PyTorch": "PyTorch eager", "PyTorch compile": "torch.compile"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms"


def _names(rows: list[dict]) -> list[str]:
    """The implementations present in any of ``rows``, in ``ORDER``."""
    return [name for name in ORDER if any(name in row["results"] for row in rows)]


def _deltaprop(rows: list[dict]) -> list[str]:
    return [name for name in _names(rows) if name.startswith("deltaprop")]


def _table(header: list[str], rows: list[list[str]], align: str = "lr") -> list[str]:
    """A markdown table; ``align`` gives the first columns' l/r, its last letter the rest's."""
    letters = align.ljust(len(header), align[-1])
    rules = ["---" if letter == "l" else "---:" for letter in letters]
    return [f"| {' | '.join(cells)} |" for cells in (header, rules, *rows)] + [""]


def _ratio_cell(value: float | None) -> str:
    return "—" if value is None else f"{ratio_text(value)}×"


# ---------------------------------------------------------------- progress lines
def epoch_line(row: dict) -> str:
    parts = [f"epoch {row['optimizer']} {row['dtype']} batch {row['batch_size']}:"]
    parts += [f"{name} {_ms(entry['min'])}" for name, entry in row["results"].items()]
    return " ".join(parts)


def _rate_line(title: str, row: dict) -> str:
    """``title`` and each implementation's samples per second (``row['samples']`` a call)."""
    rates = [f"{name} {row['samples'] / e['min']:,.0f}/s" for name, e in row["results"].items()]
    return " ".join([f"{title} ({row['samples']} samples):", *rates])


def seed_line(row: dict) -> str:
    return _rate_line("seed's recipe, batch 1", row)


def tiny_line(row: dict) -> str:
    parts = [f"2-8-8-2 tanh, batch 10, {row['optimizer']}:"]
    parts += [
        f"{name} {entry['min'] / row['steps'] * 1e6:.0f} µs/step"
        for name, entry in row["results"].items()
    ]
    return " ".join(parts)


def inference_line(row: dict) -> str:
    return _rate_line(f"inference {row['dtype']}", row)


def accuracy_line(row: dict) -> str:
    parts = [f"time to {row['target']:.1%} test accuracy, {row['recipe']}:"]
    for name, entry in row["results"].items():
        reached = "reached" if entry["reached"] else "NOT reached"
        parts.append(f"{name} {entry['min']:.2f} s ({reached})")
    return " ".join(parts)


def memory_line(results: dict) -> str:
    entries = [f"{name} {entry['peak_mib']:.0f} MiB" for name, entry in results.items()]
    return " ".join(["peak RSS:", *entries])


# ---------------------------------------------------------------- RESULTS.md
def markdown(results: dict, plot_path: Path) -> str:
    machine = results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    environment = ", ".join(machine["openblas_env"].values())
    quick = (
        " (**quick smoke test: tiny data and sizes, not a measurement; `make bench` on a quiet "
        "machine measures**)"
        if results["quick"]
        else ""
    )
    train, test = results["samples"]
    engines = ", ".join(f"`deltaprop {engine}`" for engine in results["engines"])
    lines = [
        "# deltaprop benchmark results",
        "",
        f"Written by `{results['command']}` on {datetime.date.today().isoformat()} "
        f"in {results['seconds']:.0f} s{quick}.",
        "",
        *_table(
            ["machine", ""],
            [
                ["CPU", f"{machine['cpu']}, {machine['cores']} cores"],
                ["system", machine["system"]],
                ["BLAS", machine.get("blas", "unknown")],
                ["threads", f"{machine['threads']} (threadpoolctl, torch.set_num_threads, "
                            "the CPU affinity for XLA)"],
                ["OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE", environment],
                ["deltaprop engines", f"{engines} (`Network(..., engine=...)`)"],
                ["versions", versions],
                ["data", f"{results['data']}: {train:,} training, {test:,} test samples"],
                ["repetitions", f"{results['repeats']}, interleaved"],
            ],
            align="l",
        ),
    ]  # fmt: skip
    lines += _targets_section(results["targets"], results["quick"])
    lines += _epoch_section(results["epochs"], train)
    lines += _seed_section(results["seed"])
    lines += _tiny_section(results["tiny"])
    lines += _inference_section(results["inference"])
    lines += _accuracy_section(results["accuracy"])
    lines += _compile_section(results["compile"])
    lines += _memory_section(results["memory"])
    lines += _method_section(plot_path)
    return "\n".join(lines)


def _targets_section(checks: list[dict], quick: bool) -> list[str]:
    verdicts = {True: "yes", False: "**no**", None: "not measured"}
    rows = [
        [check["target"], f"deltaprop {check['engine']}", check["measured"] or "—",
         verdicts[check["met"]]]
        for check in checks
    ]  # fmt: skip
    return [
        "## Targets of issue 11",
        "",
        "Computed from the tables below by `benchmarks/targets.py`; ratios are times "
        "(deltaprop / peer, below 1 = faster) except throughput (peer time / deltaprop time)."
        + (
            " On the quick run's tiny data these verdicts say nothing about speed." if quick else ""
        ),
        "",
        *_table(["target", "engine", "measured", "met"], rows, align="llrl"),
    ]


def _epoch_section(rows: list[dict], samples: int) -> list[str]:
    names = _names(rows)
    times = [
        [row["optimizer"], row["dtype"], str(row["batch_size"])]
        + [_cell(row["results"].get(name)) for name in names]
        for row in rows
    ]
    peers = [name for name in names if name in peers_of(names)]
    ratios = []
    for row in rows:
        for name in _deltaprop(rows):
            results = row["results"]
            fraction = results["BLAS limit"]["min"] / results[name]["min"]
            ratios.append(
                [row["optimizer"], row["dtype"], str(row["batch_size"]), name]
                + [_ratio_cell(time_ratio(results, name, peer)) for peer in peers]
                + [f"{fraction:.2f}"]
            )
    return [
        f"## Training epoch ({samples:,} samples, 784-256-128-10 ReLU, softmax cross-entropy)",
        "",
        "Seconds of one epoch, minimum / median; SGD lr 0.01, Adam lr 1e-3.",
        "",
        *_table(
            ["optimizer", "dtype", "batch", *(HEADINGS.get(n, n) for n in names)], times, "llr"
        ),
        "Ratios of the minima (deltaprop / peer: below 1, deltaprop is faster) and the share of "
        "the BLAS limit deltaprop reaches (limit / deltaprop).",
        "",
        *_table(
            [
                "optimizer",
                "dtype",
                "batch",
                "engine",
                *(f"vs {HEADINGS.get(p, p)}" for p in peers),
                "BLAS fraction",
            ],
            ratios,
            "llrlr",
        ),
        *_loss_table(rows),
    ]


def _cell(entry: dict | None) -> str:
    return "—" if entry is None else f"{_ms(entry['min'])} / {_ms(entry['median'])}"


def _loss_table(rows: list[dict]) -> list[str]:
    """The epoch's mean training loss: the same work gives the same loss."""
    names = [n for n in _names(rows) if n not in ("scikit-learn", "BLAS limit")]
    table = [
        [row["optimizer"], row["dtype"], str(row["batch_size"])]
        + [
            "—" if name not in row["results"] else f"{row['results'][name]['loss'][0]:.7g}"
            for name in names
        ]
        for row in rows
    ]
    return [
        "The same work: the mean training loss of each epoch (same initial weights, same rows "
        "in the same order).",
        "",
        *_table(["optimizer", "dtype", "batch", *(HEADINGS.get(n, n) for n in names)], table,
                "llr"),
    ]  # fmt: skip


def _speedups(results: dict, names: list[str], deltaprop: list[str]) -> list[str]:
    """For each deltaprop engine, each peer's time over deltaprop's (above 1: faster)."""
    cells = []
    for name in deltaprop:
        for peer in peers_of(names):
            ratio = time_ratio(results, name, peer)
            cells.append("—" if ratio is None else f"{ratio_text(1 / ratio)}×")
    return cells


def _ratio_headings(names: list[str], deltaprop: list[str]) -> list[str]:
    peers = peers_of(names)
    return [
        f"{name.removeprefix('deltaprop ')} vs {HEADINGS.get(peer, peer)}"
        for name in deltaprop
        for peer in peers
    ]


def _seed_section(row: dict) -> list[str]:
    names, deltaprop = _names([row]), _deltaprop([row])
    n = row["samples"]
    rates = [f"{n / row['results'][name]['min']:,.0f}" for name in names]
    return [
        "## The seed's recipe: one sample per step (samples per second, higher is better)",
        "",
        f"784-128-10, sigmoid layers, mean squared error on one-hot targets, SGD lr 3 at "
        f"batch 1 (`examples/mnist_sgd.py`), float32, one epoch over {n:,} MNIST samples; "
        "throughput ratios are peer time / deltaprop time.",
        "",
        *_table(
            [*(HEADINGS.get(n, n) for n in names), *_ratio_headings(names, deltaprop)],
            [[*rates, *_speedups(row["results"], names, deltaprop)]],
            "r",
        ),
    ]


def _tiny_section(rows: list[dict]) -> list[str]:
    names, deltaprop = _names(rows), _deltaprop(rows)
    table = [
        [row["optimizer"]]
        + [
            "—"
            if name not in row["results"]
            else f"{row['results'][name]['min'] / row['steps'] * 1e6:,.1f}"
            for name in names
        ]
        + [
            _ratio_cell(time_ratio(row["results"], name, peer))
            for name in deltaprop
            for peer in peers_of(names)
        ]
        for row in rows
    ]
    return [
        "## A playground-sized network: 2-8-8-2 tanh, batch 10 (µs per step, lower is better)",
        "",
        f"Softmax cross-entropy, float32, one epoch of {rows[0]['steps']} steps over points "
        "in the square labelled by the sign of x₁x₂; SGD lr 0.01, Adam lr 1e-3. Ratios are "
        "times (deltaprop / peer).",
        "",
        *_table(
            ["optimizer", *(HEADINGS.get(n, n) for n in names), *_ratio_headings(names, deltaprop)],
            table,
        ),
    ]


def _inference_section(rows: list[dict]) -> list[str]:
    names, deltaprop = _names(rows), _deltaprop(rows)
    table = []
    for row in rows:
        results, n = row["results"], row["samples"]
        rates = [
            "—" if name not in results else f"{n / results[name]['min']:,.0f}" for name in names
        ]
        table.append([row["dtype"], f"{n:,}", *rates, *_speedups(results, names, deltaprop)])
    return [
        "## Inference throughput (samples per second, best, higher is better)",
        "",
        "Class probabilities for the test set in one call: `predict_proba`, "
        "`softmax(model(X))` under `torch.inference_mode`, a jitted softmax of the forward "
        "pass in JAX (its input already a JAX array). Ratios are peer time / deltaprop time.",
        "",
        *_table(
            [
                "dtype",
                "samples",
                *(HEADINGS.get(n, n) for n in names),
                *_ratio_headings(names, deltaprop),
            ],
            table,
        ),
    ]


def _accuracy_section(rows: list[dict]) -> list[str]:
    lines = [
        f"## MNIST time to {rows[0]['target']:.1%} test accuracy (wall time of training)",
        "",
        "float32, seed 0, test accuracy evaluated after every epoch inside the timing; "
        "training stops at the first epoch that reaches the target. `Adam(lr=1e-3)` is what a "
        "user tries first, with `fit`'s default batch size (32) and epochs (10); the recipe "
        "is the project's: Adam lr 2e-3 decayed to 0 by a cosine over 8 epochs (by step), "
        "batch 128 (`make demo`). PyTorch and JAX run the same optimizer, schedule, initial "
        "weights and batches.",
        "",
    ]
    table = []
    for row in rows:
        for name in _names([row]):
            entry = row["results"][name]
            table.append(
                [
                    row["recipe"],
                    HEADINGS.get(name, name),
                    f"{entry['min']:.2f} / {entry['median']:.2f}",
                    ", ".join(str(e) for e in entry["epochs"]),
                    ", ".join(f"{a:.2%}" for a in entry["accuracy"]),
                    "yes" if entry["reached"] else "no",
                ]
            )
    headings = ["recipe", "implementation", "seconds (min / median)", "epochs", "test accuracy"]
    return [*lines, *_table([*headings, "reached"], table, "llrrrl")]


def _compile_section(times: dict | None) -> list[str]:
    if times is None:
        return []
    return [
        "## The compiled engine's compile time",
        "",
        "Two fresh processes sharing an empty cache folder train every workload above on a "
        "few rows with the compiled engine and then the NumPy engine; the difference is the "
        "time spent compiling (the first process) or importing numba and loading its cache "
        f"(the later one): **{times['first_s']:.2f} s** the first time, "
        f"**{times['later_s']:.2f} s** later.",
        "",
    ]


def _memory_section(results: dict) -> list[str]:
    table = []
    for name, entry in results.items():
        hwm = "—" if entry.get("hwm_mib") is None else f"{entry['hwm_mib']:.0f} MiB"
        table.append(
            [
                name,
                f"{entry['peak_mib']:.0f} MiB",
                hwm,
                f"{entry['loaded_mib']:.0f} MiB",
                f"{entry['data_mib']:.0f} MiB",
                f"{entry['peak_mib'] - entry['data_mib']:.0f} MiB",
            ]
        )
    headings = ["implementation", "peak RSS (ru_maxrss)", "VmHWM", "RSS after loading the data"]
    return [
        "## Peak resident memory, training MNIST",
        "",
        "A fresh process per implementation loads MNIST as float32 and trains with the recipe "
        "(8 epochs; scikit-learn: one SGD epoch at batch 128).",
        "",
        *_table([*headings, "float32 data set", "peak − data set"], table),
    ]


def _method_section(plot_path: Path) -> list[str]:
    return [
        "## How it is measured",
        "",
        "- Every implementation runs in this one process, interleaved (A B C A B C ...), "
        "after a warm-up outside the timing that compiles whatever it compiles: each batch "
        "size of the JAX step and of `torch.compile`, the kernels of deltaprop's compiled "
        "engine (from its disk cache, or compiled once). Cells give the minimum and the median.",
        "- deltaprop's epoch is the time `fit` records for it (`History.metrics['time']`), the "
        "loop over batches, with the loss and accuracy of every batch tracked; `fit`'s one-time "
        "check of its arguments is outside it. PyTorch eager runs the same loop (index the "
        "batch, forward, loss, `backward`, `optimizer.step`, `loss.item()`). JAX runs the "
        "whole step under `jax.jit`: it gathers the batch from the data set by the batch's "
        "indices, computes the loss and gradient, applies the optax update and adds the "
        "batch's loss and correct count to sums read once per epoch; parameters and optimizer "
        "state are donated. PyTorch and JAX start from deltaprop's initial weights and see the "
        "same rows in the same order, which the equal losses above show. scikit-learn's epoch "
        "is `MLPClassifier.fit` with `max_iter=1` (its own initialisation and shuffling, its "
        "input checks included).",
        "- The BLAS limit is the time of exactly the matrix products of one epoch: per step "
        "Z = A Wᵀ for 3 layers, ∂L/∂W = δᵀA for 3 layers, δW for the 2 upper layers, with the "
        "same shapes, dtype and threads, each product in the row/column-major layout that this "
        "BLAS runs fastest (the input batch stays row-major). It is the same for every "
        "optimizer.",
        "- Peak memory: `ru_maxrss` of a fresh process.",
        "",
        f"![epoch times]({plot_path.name})",
        "",
    ]


# ---------------------------------------------------------------- plot
def plot(results: dict, path: Path) -> bool:
    """Bars of the epoch minima and of inference throughput; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (epochs, inference) = plt.subplots(
        1, 2, figsize=(15, 4.5), gridspec_kw={"width_ratios": [4, 1]}
    )
    rows = results["epochs"]
    _bars(epochs, rows, lambda entry, row: entry["min"])
    labels = [f"{r['optimizer']}\n{r['dtype']}\nbatch {r['batch_size']}" for r in rows]
    epochs.set_xticks(range(len(rows)), labels, fontsize="small")
    epochs.set_ylabel("seconds per epoch (minimum, log scale)")
    epochs.set_yscale("log")
    epochs.set_title(f"One epoch of MNIST, 784-256-128-10 ({results['machine']['cpu']})")
    epochs.legend(fontsize="small")
    rows = results["inference"]
    _bars(inference, rows, lambda entry, row: row["samples"] / entry["min"] / 1e3)
    inference.set_xticks(range(len(rows)), [row["dtype"] for row in rows])
    inference.set_ylabel("thousand samples per second (best)")
    inference.set_title(f"Inference, {rows[0]['samples']:,} samples")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _bars(axes, rows, value) -> None:
    """Grouped bars: one group per row, one bar per implementation present in it."""
    names = _names(rows)
    width = 0.8 / len(names)
    for index, name in enumerate(names):
        xs, heights = [], []
        for position, row in enumerate(rows):
            if name in row["results"]:
                xs.append(position + (index - (len(names) - 1) / 2) * width)
                heights.append(value(row["results"][name], row))
        axes.bar(xs, heights, width, label=HEADINGS.get(name, name), color=f"C{ORDER.index(name)}")
