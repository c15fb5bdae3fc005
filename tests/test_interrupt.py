"""Ctrl-C or SIGTERM during training stops at a step boundary, saves, and loses nothing.

A child process trains with a checkpoint; once its first epoch has ended (the signal handler
is installed by then) the test sends it the signal. The child then checks, in its own memory,
that the network it holds is the one the checkpoint holds and that the optimizer's step count
matches the saved position, and reports. The test resumes from the checkpoint and compares with
an uninterrupted run: the parameters must be bit-identical. Through the command line, the same
interruption exits with status 130 and one line, leaves ``--out`` untouched, and ``--resume``
finishes the run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.io import read_file

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
BATCH = 4

CHILD = """
import json, sys
import numpy as np
import deltaprop as dp
from deltaprop.io import load_checkpoint

data, path = np.load(sys.argv[1], allow_pickle=False), sys.argv[2]
X, y = data["X"], data["y"]

class Ready(dp.Callback):
    def on_epoch_end(self, epoch, logs, network):
        print("ready", flush=True)

def network():
    return dp.Network.from_sizes([X.shape[1], 32, 5], dropout=0.1, seed=7)

net, optimizer = network(), dp.Adam()
try:
    net.fit(X, y, epochs=100000, batch_size=int(sys.argv[3]), optimizer=optimizer,
            checkpoint=path, callbacks=[Ready()])
except dp.TrainingInterrupted as stopped:
    saved_net, saved_optimizer = network(), dp.Adam()
    _, position = load_checkpoint(path, saved_net, saved_optimizer)
    print(json.dumps({
        "message": str(stopped),
        "same_parameters": all(np.array_equal(a, b)
                               for a, b in zip(net.parameters(), saved_net.parameters())),
        "finite": all(np.isfinite(p).all() for p in net.parameters()),
        "same_optimizer_state": all(np.array_equal(a, b)
                                    for slot in ("m", "v")
                                    for a, b in zip(optimizer.state[slot],
                                                    saved_optimizer.state[slot])),
        "iterations": optimizer.iterations,
        "saved_iterations": saved_optimizer.iterations,
        "epoch": position.epoch,
        "step": position.step,
    }), flush=True)
    sys.exit(0)
sys.exit(3)
"""


def data(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((10_000, 20)).astype(np.float32)
    y = rng.integers(0, 5, 10_000)
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y)
    return path, X, y


def wait_for(process: subprocess.Popen, condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{what} never happened: {process.communicate()}")
        time.sleep(0.02)


def network() -> dp.Network:
    return dp.Network.from_sizes([20, 32, 5], dropout=0.1, seed=7)


@pytest.mark.parametrize(
    ("signum", "delay"),
    [(signal.SIGINT, 0.0), (signal.SIGTERM, 0.0), (signal.SIGINT, 0.1)],
    ids=["SIGINT-at-epoch-start", "SIGTERM-at-epoch-start", "SIGINT-within-an-epoch"],
)
def test_a_signal_stops_at_a_step_boundary_and_the_run_resumes_bit_identically(
    tmp_path, signum, delay
):
    data_path, X, y = data(tmp_path)
    checkpoint = tmp_path / "run.ckpt"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_path), str(checkpoint), str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert child.stdout.readline().strip() == "ready"  # epoch 1 is over, the handler is in
    time.sleep(delay)  # an epoch is 2,500 steps: 0.1 s later the child is inside epoch 2
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert f"stopped by signal {int(signum)}" in report["message"]
    assert report["same_parameters"] and report["finite"] and report["same_optimizer_state"]
    steps_per_epoch = math.ceil(len(X) / BATCH)
    at = report["epoch"] * steps_per_epoch + report["step"]
    assert report["iterations"] == report["saved_iterations"] == at  # a whole number of steps

    epochs = report["epoch"] + 1
    resumed = network()
    resumed.fit(X, y, epochs=epochs, batch_size=BATCH, optimizer=dp.Adam(), resume=checkpoint)
    straight = network()
    straight.fit(X, y, epochs=epochs, batch_size=BATCH, optimizer=dp.Adam())
    for a, b in zip(resumed.parameters(), straight.parameters(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_in_the_cli_exits_130_keeps_out_and_resume_finishes(tmp_path):
    rng = np.random.default_rng(1)
    rows = np.column_stack([rng.integers(0, 3, 3000), rng.random((3000, 10))])
    csv = tmp_path / "data.csv"
    np.savetxt(csv, rows, delimiter=",", fmt="%.6g")
    out, checkpoint = tmp_path / "model.safetensors", tmp_path / "run.ckpt"
    out.write_bytes(b"the user's previous model")
    command = [sys.executable, "-m", "deltaprop", "train", "--data", str(csv), "--layers", "32"]
    command += ["--batch-size", "2", "--out", str(out), "--quiet", "--optimizer", "sgd"]
    child = subprocess.Popen(
        [*command, "--epochs", "100000", "--checkpoint", str(checkpoint)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    wait_for(child, checkpoint.exists, "the first checkpoint")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "stopped by signal 2" in lines[0] and f"--resume {checkpoint}" in lines[0]
    assert out.read_bytes() == b"the user's previous model"

    epoch = read_file(checkpoint)[0]["position"]["epoch"]
    done = subprocess.run(
        [*command, "--epochs", str(epoch + 1), "--resume", str(checkpoint)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert dp.load(out).history.epochs == epoch + 1
