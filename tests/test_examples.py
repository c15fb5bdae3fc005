"""Every script in examples/ runs, with a tiny budget (the full runs take under a minute each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_example_is_tested():
    tested = {"xor.py", "mnist_sgd.py", "vanishing_gradients.py", "regression.py"}
    assert {path.name for path in EXAMPLES.glob("*.py")} == tested


def test_xor_learns_all_four_cases(tmp_path):
    # The full run is a fraction of a second: XOR to 100%, the seed's classic.
    assert "accuracy 100%" in run_example("xor.py", cwd=tmp_path)


def test_mnist_sgd(tmp_path):
    out = run_example("mnist_sgd.py", "--epochs", "1", "--limit", "300", cwd=tmp_path)
    assert "Dense(784, 30, activation='sigmoid')" in out
    assert "300 training samples, 1 epochs" in out and "test accuracy" in out


def test_vanishing_gradients_writes_the_gradient_flow_plot(tmp_path):
    png = tmp_path / "flow.png"
    out = run_example(
        "vanishing_gradients.py", "--epochs", "1", "--limit", "300", "--out", str(png), cwd=tmp_path
    )
    assert "layer 1 gets" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("plot", [False, True])
def test_regression(tmp_path, plot):
    args = ["--epochs", "3", "--samples", "64"] + (["--plot", "fit.png"] if plot else [])
    out = run_example("regression.py", *args, cwd=tmp_path)
    assert "RMSE against the noiseless f" in out
    assert (tmp_path / "fit.png").exists() == plot
