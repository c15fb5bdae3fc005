"""Ctrl-C while the ``deltaprop`` command is still starting ends it as Ctrl-C does later.

Importing NumPy and the library takes a noticeable moment, before ``deltaprop.cli.main`` can
catch ``KeyboardInterrupt``; a Ctrl-C then would print a traceback. The package imports this
module first: in the ``deltaprop`` process itself (the console script or ``python -m
deltaprop``), and only there, it answers SIGINT with one line and exit status 130 until
``release`` hands the signal back to Python, once the command has started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys


def _is_the_command() -> bool:
    if os.path.basename(sys.argv[0]) == "deltaprop":  # the console script
        return True
    argv = getattr(sys, "orig_argv", [])  # during `python -m deltaprop`, sys.argv[0] is "-m"
    return "-m" in argv and argv[argv.index("-m") + 1 : argv.index("-m") + 2] == ["deltaprop"]


def _interrupted(signum, frame) -> None:
    os.write(2, b"deltaprop: interrupted\n")
    os._exit(130)  # nothing is written yet that would need flushing


def guard() -> None:
    """Answer SIGINT with exit status 130 while the command imports its modules."""
    if _is_the_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        # Imported outside the main thread, signals are not ours to set (ValueError).
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGINT, _interrupted)


def release() -> None:
    """Give SIGINT back to Python (``KeyboardInterrupt``) once the command has started."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


guard()
