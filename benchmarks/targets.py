"""The speed targets of issue 11, each checked against the numbers of this run.

The targets are for the compiled engine (float32, 2 threads); where the installed deltaprop
has none, they are checked against the NumPy engine and the table says so. A target whose
peer or measurement is missing from this run is "not measured", never met.
"""

from __future__ import annotations

SLOWER_TOLERANCE = 1.05  # "no row slower than today": 5% for the noise of a shared machine
LATER_COMPILE_S = 0.5  # "then 0": numba's import and loading the cache, no compiling


def keyed_rows(results: dict) -> dict[str, dict]:
    """Every timed row of a run by a readable key, to its ``{implementation: summary}``."""
    rows = {}
    for row in results["epochs"]:
        key = f"epoch {row['optimizer']} {row['dtype']} batch {row['batch_size']}"
        rows[key] = row["results"]
    rows["seed's recipe, batch 1"] = results["seed"]["results"]
    for row in results["tiny"]:
        rows[f"2-8-8-2 {row['optimizer']}"] = row["results"]
    for row in results["inference"]:
        rows[f"inference {row['dtype']}"] = row["results"]
    for row in results["accuracy"]:
        rows[f"MNIST to {row['target']:.0%}, {row['recipe']}"] = row["results"]
    return rows


def time_ratio(row: dict, name: str, peer: str) -> float | None:
    """deltaprop's minimum over the peer's: below 1, deltaprop is faster."""
    if name not in row or peer not in row:
        return None
    return row[name]["min"] / row[peer]["min"]


def peers_of(row: dict) -> list[str]:
    return [name for name in row if not name.startswith("deltaprop") and name != "BLAS limit"]


def ratio_text(value: float) -> str:
    """Two decimals, or two significant digits below 0.1 (never a misleading 0.00)."""
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def _check(target: str, engine: str, measured: str | None, met: bool | None) -> dict:
    return {"target": target, "engine": engine, "measured": measured, "met": met}


def _at_most(target, engine, value, limit, unit="×", note=""):
    if value is None:
        return _check(target, engine, None, None)
    return _check(target, engine, f"{ratio_text(value)}{unit}{note}", value <= limit)


def evaluate(results: dict, baseline: dict | None = None) -> list[dict]:
    engine = "compiled" if "compiled" in results["engines"] else "numpy"
    name = f"deltaprop {engine}"
    checks = []
    epochs = {
        (r["optimizer"], r["dtype"], r["batch_size"]): r["results"] for r in results["epochs"]
    }
    for optimizer, fraction in (("SGD", 0.80), ("Adam", 0.70)):
        row = epochs.get((optimizer, "float32", 128))
        if row is None:
            continue
        what = f"float32 batch 128 epoch, {optimizer}:"
        for peer, limit in (("JAX", 0.85), ("PyTorch", 0.6)):
            ratio = time_ratio(row, name, peer)
            checks.append(_at_most(f"{what} ≤ {limit}× {peer}", engine, ratio, limit))
        reached = row["BLAS limit"]["min"] / row[name]["min"]
        checks.append(
            _check(f"{what} ≥ {fraction:.2f} of the BLAS limit", engine, f"{reached:.2f}",
                   reached >= fraction)
        )  # fmt: skip
    for (optimizer, dtype, batch), row in epochs.items():
        if batch in (32, 512) or dtype == "float64":
            ratios = {peer: time_ratio(row, name, peer) for peer in peers_of(row)}
            worst = max(ratios, key=ratios.get, default=None)
            checks.append(
                _at_most(
                    f"{dtype} batch {batch} epoch, {optimizer}: faster than every peer",
                    engine,
                    ratios.get(worst),
                    1.0,
                    note=f" {worst}" if worst else "",
                )
            )
    for row in results["tiny"]:
        ratio = time_ratio(row["results"], name, "JAX")
        checks.append(
            _at_most(f"2-8-8-2 network, {row['optimizer']}: µs per step ≤ JAX's", engine,
                     ratio, 1.0, note=" of JAX's")
        )  # fmt: skip
    seed = results["seed"]
    rate = seed["samples"] / seed["results"][name]["min"]
    checks.append(
        _check("batch 1 (seed's recipe): ≥ 25,000 samples/s", engine, f"{rate:,.0f}/s",
               rate >= 25000)
    )  # fmt: skip
    inference = next(row for row in results["inference"] if row["dtype"] == "float32")
    for peer, wanted in (("PyTorch", 1.5), ("JAX", 1.0)):
        ratio = time_ratio(inference["results"], name, peer)
        speedup = None if ratio is None else 1 / ratio
        checks.append(
            _check(
                f"inference, 10,000 samples: ≥ {wanted}× {peer}'s throughput",
                engine,
                None if speedup is None else f"{ratio_text(speedup)}×",
                None if speedup is None else speedup >= wanted,
            )
        )
    checks.append(_numpy_against(results, baseline))
    checks.append(_compile(results))
    return checks


def _numpy_against(results: dict, baseline: dict | None) -> dict:
    """NumPy engine: no row slower than in ``baseline`` (a run from before, same CPU)."""
    what = "NumPy engine: no row slower than before (--baseline)"
    if baseline is None:
        return _check(what, "numpy", "no --baseline given", None)
    if baseline["quick"] != results["quick"]:
        return _check(what, "numpy", "the baseline and this run differ in --quick", None)
    if baseline["machine"]["cpu"] != results["machine"]["cpu"]:
        return _check(what, "numpy", f"baseline ran on {baseline['machine']['cpu']}", None)
    now, before = keyed_rows(results), keyed_rows(baseline)
    ratios = {
        key: now[key]["deltaprop numpy"]["min"] / before[key]["deltaprop numpy"]["min"]
        for key in now.keys() & before.keys()
        if "deltaprop numpy" in now[key] and "deltaprop numpy" in before[key]
    }
    if not ratios:
        return _check(what, "numpy", "no row in common with the baseline", None)
    worst = max(ratios, key=ratios.get)
    return _at_most(what, "numpy", ratios[worst], SLOWER_TOLERANCE, note=f" of before ({worst})")


def _compile(results: dict) -> dict:
    what = f"first-run compile ≤ 5 s in total, then ≤ {LATER_COMPILE_S} s"
    times = results["compile"]
    if times is None:
        return _check(what, "compiled", None, None)
    return _check(
        what,
        "compiled",
        f"{times['first_s']:.2f} s, then {times['later_s']:.2f} s",
        times["first_s"] <= 5.0 and times["later_s"] <= LATER_COMPILE_S,
    )
