"""``benchmarks/bench.py --quick`` runs to the end and writes a well-formed report.

No timing is asserted: the smoke test only proves that the benchmark works on this machine, so
that ``make bench`` does not break unnoticed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_writes_a_well_formed_report(tmp_path):
    results, plot = tmp_path / "RESULTS.md", tmp_path / "results.png"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    command = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick"]
    completed = subprocess.run(
        [*command, "--out", str(results), "--plot", str(plot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    text = results.read_text()
    for heading in (
        "## Targets of issue 5",
        "## Training epoch",
        "## Inference throughput",
        "## MNIST time to",
        "## Peak resident memory",
    ):
        assert heading in text
    tables = _tables(text)
    assert len(tables) >= 6
    for table in tables:
        widths = {row.count("|") for row in table}
        assert len(widths) == 1, table  # every row has the header's number of cells
        assert set(table[1].replace("|", "").split()) <= {"---", "---:"}
    epoch_rows = next(t for t in tables if "BLAS limit" in t[0])[2:]
    assert {row.split("|")[2].strip() for row in epoch_rows} == {"32", "128", "512"}
    assert {row.split("|")[1].strip() for row in epoch_rows} == {"float32", "float64"}
    if importlib.util.find_spec("matplotlib") is not None:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if importlib.util.find_spec("ruff") is not None:  # make lint formats RESULTS.md's code too
        config = ["--config", str(ROOT / "pyproject.toml")]
        check = [sys.executable, "-m", "ruff", "format", "--check", *config, str(results)]
        formatted = subprocess.run(check, capture_output=True, text=True)
        assert formatted.returncode == 0, formatted.stdout + formatted.stderr


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
