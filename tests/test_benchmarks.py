"""``benchmarks/bench.py --quick`` runs to the end, and the numbers it reports make sense.

No speed is asserted (speed is for the benchmark itself, on a quiet machine): the checks are of
what holds on any machine. The report is well formed, with a finite positive number in every
ratio cell; the products alone take less time than deltaprop's whole epoch; deltaprop learns;
the peers that start from deltaprop's weights and batches compute deltaprop's losses, so that
the benchmark compares the same work.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
JAX_MISSING = 'JAX is not installed: pip install -e ".[bench]" (make bench installs it)'
# The epoch-mean training loss of two implementations of the same work: float32 rounding.
LOSS_TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def test_quick_benchmark_reports_sane_numbers(tmp_path, monkeypatch):
    paths = {name: tmp_path / name for name in ("RESULTS.md", "results.json", "results.png")}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    command = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick"]
    command += ["--out", str(paths["RESULTS.md"]), "--json", str(paths["results.json"])]
    command += ["--plot", str(paths["results.png"])]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    text, results = paths["RESULTS.md"].read_text(), json.loads(paths["results.json"].read_text())

    _check_tables(text)
    _check_epoch_rows(results)
    _check_deltaprop_learns(results)
    installed = {"PyTorch": "torch", "JAX": "optax", "scikit-learn": "sklearn"}
    for peer, module in installed.items():
        if importlib.util.find_spec(module) is not None:
            assert peer in results["epochs"][0]["results"]
    _check_same_losses(results)
    _check_targets(results, text)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import targets

    checks = targets.evaluate(results, baseline=results)  # a run against itself: not slower
    against_itself = next(check for check in checks if "--baseline" in check["target"])
    assert against_itself["met"] and against_itself["measured"].startswith("1.00×")
    if importlib.util.find_spec("matplotlib") is not None:
        assert paths["results.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_tables(text: str) -> None:
    for heading in (
        "## Targets of issue 11",
        "## Training epoch",
        "## The seed's recipe",
        "## A playground-sized network",
        "## Inference throughput",
        "## MNIST time to",
        "## Peak resident memory",
    ):
        assert heading in text
    tables = _tables(text)
    assert len(tables) >= 9
    ratio_tables = 0
    for table in tables:
        widths = {row.count("|") for row in table}
        assert len(widths) == 1, table  # every row has the header's number of cells
        assert set(table[1].replace("|", "").split()) <= {"---", "---:"}
        header = _cells(table[0])
        ratio_columns = [i for i, name in enumerate(header) if "vs " in name]
        ratio_tables += bool(ratio_columns)
        for row in table[2:]:
            for index in ratio_columns:
                cell = _cells(row)[index]
                value = float(cell.rstrip("×").replace(",", ""))
                assert math.isfinite(value) and value > 0, (header[index], row)
    assert ratio_tables == 4  # epochs, the seed's recipe, the tiny network, inference


def _check_epoch_rows(results: dict) -> None:
    """Every epoch row has its products' work and a time for each contender. Which is faster is
    the benchmark's finding, not a test's: on a busy machine the quick run's milliseconds are
    noise (the BLAS limit once came out slower than a whole deltaprop epoch)."""
    for row in results["epochs"]:
        assert row["gflop"] > 0
        assert {"deltaprop numpy", "BLAS limit"} <= set(row["results"])
        for entry in row["results"].values():
            assert math.isfinite(entry["min"]) and entry["min"] > 0


def _check_deltaprop_learns(results: dict) -> None:
    for row in results["accuracy"]:
        for name in (f"deltaprop {engine}" for engine in results["engines"]):
            entry = row["results"][name]
            assert entry["reached"], (row["recipe"], name, entry["accuracy"])
            assert all(b < a for a, b in zip(entry["initial_loss"], entry["final_loss"]))


def _check_same_losses(results: dict) -> None:
    """Every engine, PyTorch and JAX compute deltaprop's epoch losses (not scikit-learn)."""
    for row in [*results["epochs"], results["seed"], *results["tiny"]]:
        expected = row["results"]["deltaprop numpy"]["loss"][0]
        tolerance = LOSS_TOLERANCE[row.get("dtype", "float32")]
        for name, entry in row["results"].items():
            if name not in ("scikit-learn", "BLAS limit"):
                assert entry["loss"][0] == pytest.approx(expected, rel=tolerance), (row, name)


def _check_targets(results: dict, text: str) -> None:
    """Every target is in the table with its verdict; a measured one has its number."""
    checks = results["targets"]
    assert len(checks) >= 9
    for check in checks:
        assert check["met"] in (True, False, None)
        if check["met"] is not None:
            assert re.search(r"\d", check["measured"]), check
        assert f"| {check['target']} |" in text


def _tables(text: str) -> list[list[str]]:
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def test_jax_computes_deltaprops_losses_from_the_same_weights(monkeypatch):
    """The JAX peer's loss at deltaprop's initial weights, and after an epoch of each optimizer."""
    for module in ("jax", "optax"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(JAX_MISSING)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import jax
    import jax_peer
    import workloads

    loss_of = jax.jit(jax_peer.loss_of, static_argnums=0)
    rng = np.random.default_rng(0)
    spec = workloads.MNIST
    for dtype in ("float32", "float64"):
        X = rng.random((96, spec.sizes[0])).astype(dtype)
        y = rng.integers(0, spec.sizes[-1], len(X))
        network = workloads.new_network(spec, dtype)
        jax_loss, _ = loss_of(spec, jax_peer.parameters_of(network), X, y)
        expected = network.evaluate(X, y)["loss"]
        assert float(jax_loss) == pytest.approx(expected, rel=LOSS_TOLERANCE[dtype])
        for optim in (workloads.Optim("SGD", 0.1), workloads.Optim("Adam", 1e-3, 4)):
            trained = workloads.DeltapropEpoch(spec, optim, X, y, 32, "numpy")()
            assert jax_peer.Epoch(spec, optim, X, y, 32)()["loss"] == pytest.approx(
                trained["loss"], rel=LOSS_TOLERANCE[dtype]
            )
