"""``deltaprop sweep``: a grid of configurations, one per worker, gives one row each.

Every configuration trains alone with its own seed, so a row must equal training that
configuration directly, whichever worker (a local process or an MPI rank) trained it.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs
from hypothesis import given
from hypothesis import strategies as st

from deltaprop import ValidationError
from deltaprop.cli import main
from deltaprop.sweep import check_grid, configurations, markdown_table, train_configuration

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
MPIEXEC = Path(sys.executable).parent / "mpiexec"

GRID = """\
data = "digits"
epochs = 2
batch-size = 64
optimizer = "sgd"
validation_split = 0.1
lr = [0.05, 1e9]          # the second one diverges: its row says so, the others go on
layers = ["16", "24,12"]
"""


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"):
        env.pop(name, None)
    return env


def sweep(tmp_path: Path, launcher: list[str]) -> tuple[subprocess.CompletedProcess, list[dict]]:
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    table = tmp_path / "results.csv"
    command = [*launcher, sys.executable, "-m", "deltaprop", "sweep", "--grid", str(grid)]
    command += ["--out", str(table), "--out", str(tmp_path / "results.md"), "--workers", "2"]
    result = subprocess.run(command, env=environment(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result, list(csv.DictReader(io.StringIO(table.read_text())))


def expected_rows() -> list[dict]:
    grid = check_grid(__import__("tomllib").loads(GRID))
    return [train_configuration(config) for config in configurations(grid)]


def check_rows(rows: list[dict], expected: list[dict]) -> None:
    assert [(row["#"], row["lr"], row["layers"]) for row in rows] == [
        ("1", "0.05", "16"),
        ("2", "0.05", "24,12"),
        ("3", "1e+09", "16"),
        ("4", "1e+09", "24,12"),
    ]
    for row, want in zip(rows, expected):
        if "error" in want:
            assert row["error"].startswith("training diverged")
            assert row["test_accuracy"] == ""
            continue
        assert row["error"] == ""
        for key in ("loss", "accuracy", "val_loss", "test_loss", "test_accuracy"):
            assert math.isclose(float(row[key]), want[key], rel_tol=1e-5), key
        assert row["epochs_run"] == "2"


def test_a_sweep_on_local_processes_gives_one_row_per_configuration(tmp_path):
    result, rows = sweep(tmp_path, [])
    check_rows(rows, expected_rows())
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.splitlines()[0].startswith("| # | lr | layers | loss |")
    assert result.stdout == markdown
    assert result.stderr.count("[") == 4 and "[4/4]" in result.stderr


@needs(MPIEXEC.exists(), reason="the mpi extra (mpich's mpiexec) is missing")
def test_a_sweep_under_mpiexec_gives_the_same_rows(tmp_path):
    # Rank 0 hands out the configurations, ranks 1 and 2 train them.
    _, rows = sweep(tmp_path, [str(MPIEXEC), "-n", "3"])
    check_rows(rows, expected_rows())


def test_a_grid_with_an_unknown_option_is_refused_with_a_suggestion(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('data = "digits"\nlrr = [0.1, 0.2]\n')
    assert main(["sweep", "--grid", str(grid)]) == 1
    error = capsys.readouterr().err
    assert "unknown option 'lrr' (did you mean 'lr'?)" in error
    assert len(error.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"lr": [0.1]}, "say which data to train on"),
        ({"data": "digits", "lr": []}, "lr = [] gives no configuration"),
        ({"data": "digits", "epochs": [1, "two"]}, "epochs must be a int, got 'two'"),
        ({"data": "digits", "dropout": True}, "dropout must be a float or int, got True"),
    ],
)
def test_bad_grids_are_refused(grid, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        check_grid(grid)


def test_momentum_with_adam_fails_that_configuration_only():
    row = train_configuration({"data": "digits", "optimizer": "adam", "momentum": 0.9})
    assert row["error"].startswith("momentum applies to sgd only")


def test_bad_output_names_and_worker_counts_are_usage_errors(tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('data = "digits"\n')
    assert main(["sweep", "--grid", str(grid), "--out", "table.txt"]) == 2
    assert main(["sweep", "--grid", str(grid), "--workers", "0"]) == 2
    assert main(["sweep", "--grid", str(tmp_path / "missing.toml")]) == 1
    assert "does not exist" in capsys.readouterr().err


@given(st.dictionaries(st.sampled_from(["lr", "seed", "layers"]), st.integers(1, 3), min_size=1))
def test_configurations_are_the_product_of_the_axes(sizes):
    values = {"lr": 0.1, "seed": 1, "layers": "8"}
    grid = {"data": "digits", "epochs": 1}
    grid |= {name: [values[name]] * size for name, size in sizes.items()}
    configs = configurations(grid)
    assert len(configs) == math.prod(sizes.values())
    assert all(config["data"] == "digits" and config["epochs"] == 1 for config in configs)
    assert all(set(config) == set(grid) for config in configs)


def test_markdown_cells_escape_pipes():
    grid = {"data": "digits", "layers": ["8"]}
    table = markdown_table(grid, [{"data": "digits", "layers": "8"}], [{"error": "a | b"}])
    assert "a \\| b" in table
