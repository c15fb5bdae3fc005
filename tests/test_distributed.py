"""Data-parallel training on MPI equals training in one process.

The jobs run under the environment's own ``mpiexec`` (the ``mpich`` wheel of the ``mpi``
extra, which oversubscribes a 2-core machine with 3 ranks without any flag); each rank writes
its parameters, and the test compares them with a run of the same job in this process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import needs
from hypothesis import given, settings
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop.distributed import (
    SOLO,
    _ShardOfGlobalDraw,
    add_distributed_option,
    launched_rank,
    launched_size,
    team_for,
)

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
JOB = HERE / "mpi_job.py"
MPIEXEC = Path(sys.executable).parent / "mpiexec"
JOB_TIMEOUT = 120  # seconds; a job takes about one on an idle machine, and a hang never ends

sys.path.insert(0, str(HERE))
import mpi_job  # noqa: E402

needs_mpi = needs(
    MPIEXEC.exists() and any((Path(p) / "mpi4py").is_dir() for p in sys.path if p),
    reason="the mpi extra (mpi4py and the mpich wheel with its mpiexec) is not installed",
)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"):
        env.pop(name, None)
    return env


def mpiexec(n: int, case: str, out: Path, timeout: float = JOB_TIMEOUT, engine: str = "auto"):
    command = [str(MPIEXEC), "-n", str(n), sys.executable, str(JOB), case, str(out), engine]
    return subprocess.run(
        command, env=environment(), capture_output=True, text=True, timeout=timeout
    )


def alone(case: str, out: Path, engine: str = "auto") -> dict:
    """The job in this process (distributed=False): the reference."""
    out.mkdir()
    mpi_job.run(case, out, engine)
    return dict(np.load(out / "rank0.npz"))


def parameters(result: dict) -> list[np.ndarray]:
    return [result[f"arr_{i}"] for i in range(sum(k.startswith("arr_") for k in result))]


def digest(result: dict) -> str:
    hasher = hashlib.sha256()
    for array in parameters(result):
        hasher.update(array.tobytes())
    hasher.update(str(result["rng"]).encode())
    return hasher.hexdigest()


def max_relative_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(x - y)) / np.max(np.abs(y))) for x, y in zip(a, b))


@needs_mpi
@pytest.mark.parametrize(("case", "ranks"), [("classify", 2), ("regress", 3)])
def test_training_on_several_ranks_equals_one_process(tmp_path, case, ranks, engine):
    # classify: dropout on two layers, momentum, a last batch of 11 rows, validation split;
    # regress: mse over rows and outputs, Adam, dropout, a last batch of 2 rows for 3 ranks.
    reference = alone(case, tmp_path / "alone", engine)
    out = tmp_path / "mpi"
    out.mkdir()
    job = mpiexec(ranks, case, out, engine=engine)
    assert job.returncode == 0, job.stderr
    results = [dict(np.load(out / f"rank{r}.npz")) for r in range(ranks)]

    assert len({digest(result) for result in results}) == 1, "ranks are not bit-identical"
    assert max_relative_difference(parameters(results[0]), parameters(reference)) < 1e-6
    # The same shuffles and dropout masks: the generator ends in the same state.
    assert str(results[0]["rng"]) == str(reference["rng"])
    history, expected = (
        json.loads(str(results[0]["history"])),
        json.loads(str(reference["history"])),
    )
    assert history.keys() == expected.keys()
    for key in expected:
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-9)


@needs_mpi
def test_only_rank_0_prints_and_says_how_many_blas_threads(tmp_path):
    job = mpiexec(3, "classify", tmp_path)
    assert job.returncode == 0, job.stderr
    assert job.stderr.count("epoch 1/4") == 1
    assert job.stderr.count("data-parallel training on 3 MPI ranks") == 1
    assert "BLAS threads per rank:" in job.stderr


@needs_mpi
def test_a_signal_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    # Rank 2 alone gets SIGTERM after epoch 2; all ranks stop before epoch 3 and rank 0
    # writes the checkpoint, from which one process finishes the training.
    job = mpiexec(3, "interrupt", tmp_path)
    assert job.returncode == 0, job.stderr
    messages = {(tmp_path / f"rank{r}.txt").read_text() for r in range(3)}
    assert messages == {"TrainingInterrupted: training stopped by signal 15 at epoch 3, step 0"}, (
        messages
    )

    X, y = mpi_job.classification_data(243, 6, 3, seed=1)
    network = dp.Network.from_sizes([6, 16, 8, 3], dropout=0.3, dtype="float64", seed=7)
    optimizer = dp.SGD(lr=0.1, momentum=0.9)
    network.fit(
        X,
        y,
        epochs=4,
        batch_size=32,
        optimizer=optimizer,
        validation_split=40 / 243,
        resume=tmp_path / "checkpoint.safetensors",
        distributed=False,
    )
    reference = alone("classify", tmp_path / "alone")
    assert max_relative_difference(network.parameters(), parameters(reference)) < 1e-6


@needs_mpi
def test_a_rank_that_fails_ends_the_whole_job_with_a_message(tmp_path):
    # Without the abort, rank 0 would wait in its next Allreduce forever: the timeout fails it.
    job = mpiexec(2, "fail", tmp_path)
    assert job.returncode != 0
    assert "rank 1 of 2 failed: RuntimeError: injected failure on rank 1" in job.stderr
    assert not list(tmp_path.glob("rank*.npz"))


@needs_mpi
def test_ranks_that_built_different_networks_are_refused(tmp_path):
    job = mpiexec(2, "disagree", tmp_path)
    assert job.returncode == 0, job.stderr
    for rank in range(2):
        message = (tmp_path / f"rank{rank}.txt").read_text()
        assert message.startswith("RanksDisagreeError: the 2 ranks hold different network")
        assert "same seed" in message


@needs_mpi
@pytest.mark.parametrize(
    "case, what",
    [("other_validation", "data"), ("other_shuffle", "options (batch_size, shuffle, optimizer)")],
)
def test_ranks_with_other_validation_data_or_shuffle_are_refused(tmp_path, case, what):
    job = mpiexec(2, case, tmp_path)
    assert job.returncode == 0, job.stderr
    for rank in range(2):
        message = (tmp_path / f"rank{rank}.txt").read_text()
        assert message.startswith(f"RanksDisagreeError: the 2 ranks hold different {what}:")


def test_import_deltaprop_never_imports_mpi4py():
    code = (
        "import sys, numpy as np, deltaprop as dp\n"
        "net = dp.Network.from_sizes([3, 4, 2])\n"
        "net.fit(np.zeros((8, 3)), np.arange(8) % 2, epochs=1)\n"
        "print('mpi4py' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@needs_mpi
def test_a_launcher_of_another_mpi_is_named_in_the_error():
    # PMI_SIZE=2 without a launcher behind it: what a foreign mpirun looks like to mpi4py.
    code = (
        "import numpy as np, deltaprop as dp\n"
        "dp.Network.from_sizes([3, 2]).fit(np.zeros((4, 3)), np.zeros(4, dtype=int))\n"
    )
    env = environment() | {"PMI_SIZE": "2", "PMI_RANK": "0"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "the launcher started 2 processes but MPI sees 1" in result.stderr
    assert "environment's own mpiexec" in result.stderr


def test_without_a_launcher_training_is_solo(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert launched_size() == 1
    assert team_for(None) is SOLO
    assert team_for(False) is SOLO


def test_launcher_variables_give_size_and_rank(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    for name in ("PMI_SIZE", "PMI_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (launched_size(), launched_rank()) == (4, 3)
    assert team_for(False) is SOLO


def test_the_command_line_option_maps_to_fit_distributed():
    parser = argparse.ArgumentParser()
    add_distributed_option(parser)
    assert parser.parse_args([]).distributed is None
    assert parser.parse_args(["--distributed"]).distributed is True
    assert parser.parse_args(["--no-distributed"]).distributed is False


def test_distributed_must_be_a_bool_or_a_communicator():
    with pytest.raises(dp.DeltapropTypeError, match="distributed must be True, False, None"):
        team_for("yes")


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(1, 40),
    ranks=st.integers(1, 5),
    width=st.integers(1, 6),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_rank_draws_its_rows_of_the_single_process_mask(total, ranks, width, dtype, seed):
    single = np.random.default_rng(seed)
    expected = single.random((total, width), dtype=dtype)
    rows = []
    for rank in range(ranks):
        start, stop = total * rank // ranks, total * (rank + 1) // ranks
        draw = _ShardOfGlobalDraw()
        draw.generator = np.random.default_rng(seed)
        draw.select(start, stop, total)
        rows.append(draw.random((stop - start, width), dtype=dtype))
        # Every rank's generator moves on exactly as the single process's does.
        assert draw.generator.bit_generator.state == single.bit_generator.state
    np.testing.assert_array_equal(np.concatenate(rows), expected)


@needs_mpi
def test_deltaprop_train_under_mpiexec_trains_once_and_writes_on_rank_0(tmp_path):
    out = tmp_path / "model.safetensors"
    command = [str(MPIEXEC), "-n", "2", sys.executable, "-m", "deltaprop", "train"]
    command += ["--data", "digits", "--layers", "16", "--epochs", "1", "--out", str(out)]
    job = subprocess.run(
        command, env=environment(), capture_output=True, text=True, timeout=JOB_TIMEOUT
    )
    assert job.returncode == 0, job.stderr
    assert "data-parallel training on 2 MPI ranks" in job.stderr
    assert (job.stdout + job.stderr).count("test accuracy") == 1  # rank 0 alone reports
    assert dp.load(out).sizes == [64, 16, 10]
