"""Training's progress fits where it runs (progress.py): a bar in a terminal and in Jupyter, one
line per epoch and no carriage returns where the output is a pipe or a file."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from notebook_kernel import outputs, run_notebook

import deltaprop as dp
from deltaprop.progress import bar_class, format_logs, in_notebook, progress_bar
from deltaprop.training import Position

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([0, 1, 1, 0])


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Closed(io.StringIO):
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


def test_format_logs():
    logs = {"loss": 0.12345, "accuracy": 0.965, "val_loss": 0.2, "lr": 0.002, "time": 1.26}
    assert format_logs(logs) == (
        "loss 0.1235 · accuracy 96.50% · val_loss 0.2000 · lr 0.002 · 1.3s"
    )
    assert format_logs({"test accuracy": 0.5}) == "test accuracy 50.00%"


def test_a_terminal_gets_the_text_bar_and_anything_else_none():
    from tqdm.std import tqdm

    assert not in_notebook()  # pytest is no Jupyter kernel
    assert bar_class(Terminal()) is tqdm
    assert bar_class(io.StringIO()) is None
    assert bar_class(Closed()) is None


def test_only_verbose_1_draws_a_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    position = Position(epoch=0, step=0)
    assert type(progress_bar(1, 10, position, 3)).__name__ == "_TqdmBar"
    assert type(progress_bar(True, 10, position, 3)).__name__ == "_TqdmBar"
    for verbose in (0, 2):
        assert type(progress_bar(verbose, 10, position, 3)).__name__ == "_NoBar"


@pytest.mark.parametrize("verbose", [1, 2])
def test_fit_logs_one_line_per_epoch_when_stderr_is_not_a_terminal(capsys, verbose):
    net = dp.Network.from_sizes([2, 4, 2], hidden="tanh", output="softmax", seed=0)
    net.fit(X, Y, epochs=3, batch_size=1, verbose=verbose)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert [line.split(":")[0] for line in err.splitlines()] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
    ]


def test_fit_draws_the_bar_on_a_terminal(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    net = dp.Network.from_sizes([2, 4, 2], hidden="tanh", output="softmax", seed=0)
    net.fit(X, Y, epochs=2, batch_size=1, verbose=1)
    written = terminal.getvalue()
    assert "\r" in written and "step" in written and "epoch 2/2: loss" in written


# ------------------------------------------------------------------------ the CLI in a subprocess
TRAIN = ["-m", "deltaprop", "train", "--data", "digits", "--layers", "16", "--epochs", "3"]


def deltaprop_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def test_train_through_pipes_prints_one_line_per_epoch(tmp_path):
    # CI, `make demo > log`, nohup: stdout and stderr are pipes or files, not terminals
    result = subprocess.run(
        [sys.executable, *TRAIN, "--out", str(tmp_path / "m.safetensors")],
        capture_output=True,
        text=True,
        env=deltaprop_env(),
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr + result.stdout
    epoch_lines = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epoch_lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(len(line) < 200 for line in result.stderr.splitlines())
    assert "test accuracy" in result.stdout


def test_train_in_a_terminal_keeps_the_bar(tmp_path):
    leader, follower = pty.openpty()
    # a terminal of 24 rows and 100 columns (a new pty has 0 columns, and tqdm fits the bar in)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    chunks: list[bytes] = []

    def read() -> None:  # drain the terminal while training writes to it
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the follower side closed: the process ended
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        result = subprocess.run(
            [sys.executable, *TRAIN, "--out", str(tmp_path / "m.safetensors")],
            stdout=subprocess.PIPE,
            stderr=follower,
            env=deltaprop_env(),
            cwd=tmp_path,
            timeout=300,
        )
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    assert result.returncode == 0
    written = b"".join(chunks).decode("utf-8", "replace")
    assert re.search(r"\repoch 1/3: +\d+%\|.*step/s", written)  # tqdm's text bar, redrawn
    assert "epoch 3/3: loss" in written


# ------------------------------------------------------------------------ Jupyter
FIT = """
import numpy as np
import deltaprop as dp
net = dp.Network.from_sizes([2, 3, 2])
net.fit(np.eye(2), np.array([0, 1]), epochs=2, batch_size=1, verbose=1);
"""


def test_jupyter_shows_the_notebook_bar(tmp_path):
    executed = run_notebook(new_notebook(cells=[new_code_cell(FIT)]), tmp_path)
    shown = outputs(executed)
    assert sum(WIDGET in output.get("data", {}) for output in shown) == 2  # one bar per epoch
    text = "".join(output.get("text", "") for output in shown)
    assert "epoch 2/2: loss" in text and "Warning" not in text


def test_jupyter_without_ipywidgets_shows_the_text_bar(tmp_path):
    hide = new_code_cell("import sys\nsys.modules['ipywidgets'] = None  # as if not installed")
    executed = run_notebook(new_notebook(cells=[hide, new_code_cell(FIT)]), tmp_path)
    shown = outputs(executed)
    assert not any(WIDGET in output.get("data", {}) for output in shown)
    err = "".join(output.text for output in shown if output.get("name") == "stderr")
    assert "0/2 [" in err and "step" in err  # tqdm's text bar, then the epoch line
    assert "epoch 2/2: loss" in err
    assert "IProgress" not in err and "Warning" not in err  # no tqdm warning about ipywidgets
