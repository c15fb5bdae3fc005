"""How training reports its progress: the epoch line, and a progress bar that fits where it runs.

``fit(verbose=1)`` draws one bar per epoch, chosen by where the output goes:

- in Jupyter, tqdm's notebook bar (a widget), or its text bar when ipywidgets is not installed;
- in a terminal, tqdm's text bar on stderr;
- anywhere else (CI, a log file, nohup, a pipe to another program) no bar at all: carriage-return
  updates many times a second would turn each epoch into one line of thousands of characters.
  The epoch line that ``fit`` prints after each epoch (``format_logs``) is the log there, as
  Keras's ``verbose=2`` is.

tqdm is optional (the ``cli`` extra): without it there is no bar anywhere, and the epoch lines
remain. IPython is never imported here; a notebook is recognised by the kernel already running.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any


def format_value(key: str, value: float) -> str:
    """One logged value as training prints it: accuracies in %, seconds, lr and losses."""
    if key.endswith("accuracy"):
        return f"{value:.2%}"
    if key == "time":
        return f"{value:.1f}s"
    if key == "lr":
        return f"{value:.3g}"
    return f"{value:.4f}"


def format_logs(logs: dict[str, float]) -> str:
    """``loss 0.1234 · accuracy 96.50% · ...`` for one epoch's logs."""
    return " · ".join(
        format_value(key, value) if key == "time" else f"{key} {format_value(key, value)}"
        for key, value in logs.items()
    )


def in_notebook() -> bool:
    """True inside a Jupyter kernel, without importing IPython (tqdm.auto's own test)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel.zmqshell" not in sys.modules:
        return False
    return ipython.get_ipython() is not None


def _draws_widgets() -> bool:
    """False for the kernels of Jupyter's Qt console and Spyder, which show text only."""
    shell = type(sys.modules["IPython"].get_ipython()).__name__.lower()
    console = any(key == "QT_API" or key.startswith("SPYDER") for key in os.environ)
    return not (console or "qt" in shell or "spyder" in shell)


def is_terminal(stream: IO[str]) -> bool:
    """True when ``stream`` is a terminal; a closed or detached stream is not."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def bar_class(stream: IO[str]) -> Any | None:
    """The tqdm class for a bar on ``stream`` (see the module docstring), or None for no bar."""
    try:
        from tqdm.std import tqdm
    except ImportError:  # tqdm is an optional extra: without it, the epoch lines remain
        return None
    if in_notebook():  # Jupyter shows carriage returns as updates of one line: text works too
        return (_draws_widgets() and _notebook_bar()) or tqdm
    return tqdm if is_terminal(stream) else None


def _notebook_bar() -> Any | None:
    """tqdm's widget bar, or None when ipywidgets is missing (tqdm.auto would warn, then fall
    back to text: here the fallback is silent, as the text bar works in Jupyter too)."""
    try:
        from tqdm.notebook import IProgress, tqdm
    except ImportError:
        return None
    return tqdm if IProgress is not None else None


class _NoBar:
    def update(self, position, started):
        pass

    def close(self):
        pass


class _TqdmBar:
    """One tqdm bar per epoch showing loss, accuracy and samples/s."""

    def __init__(self, tqdm, total, position, epochs, stream):
        self.bar = tqdm(
            total=total,
            initial=position.step,
            desc=f"epoch {position.epoch + 1}/{epochs}",
            unit="step",
            leave=False,
            file=stream,
        )

    def update(self, position, started):
        elapsed = max(time.perf_counter() - started, 1e-9)
        postfix = {"loss": f"{position.loss_sum / position.seen:.4f}"}
        if position.correct:
            postfix["acc"] = f"{position.correct / position.seen:.2%}"
        postfix["samples/s"] = f"{position.seen / elapsed:,.0f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def close(self):
        self.bar.close()


def progress_bar(verbose, total: int, position, epochs: int) -> _NoBar | _TqdmBar:
    """The bar for one epoch of ``total`` steps starting at ``position`` (a training.Position).

    Only ``verbose=1`` draws one, on stderr, where the epoch lines go too.
    """
    tqdm = bar_class(sys.stderr) if verbose == 1 else None
    if tqdm is None:
        return _NoBar()
    return _TqdmBar(tqdm, total, position, epochs, sys.stderr)
