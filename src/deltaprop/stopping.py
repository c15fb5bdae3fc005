"""Stopping a training run cleanly on SIGINT/SIGTERM: the flag the fit loop checks between steps.

The signal handler only records the signal; the fit loop (``training.py``) looks at the flag
between two steps, writes any checkpoint, and raises ``TrainingInterrupted``. The MPI team
(``distributed.py``) extends the flag so that all ranks stop at the same step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopRequest:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a step is never cut in half."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self, signum, frame) -> None:
        self.signal = signum

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by ``fit`` after SIGINT/SIGTERM, at a step boundary, once any checkpoint is saved."""
