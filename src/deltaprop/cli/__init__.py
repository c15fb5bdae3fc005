"""The ``deltaprop`` command: a thin layer over the Python API, one module per subcommand.

Each subcommand module has ``register(subparsers)``, which adds its parser and sets
``run=function(args) -> int``. Exit status: 0 success, 1 a runtime error (one line on stderr,
also for an unexpected exception), 2 bad usage (argparse's convention), 130 interrupted.
``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import _startup
from ..distributed import abort_on_failure
from ..errors import DeltapropError
from ..version import __version__

SUBCOMMANDS: list[str] = [  # module names under deltaprop.cli, in --help order
    "train",
    "evaluate",
    "predict",
    "gradcheck",
    "explain",
    "report",
    "export",
    "sweep",
    "playground",
]


SUBPARSERS: dict[str, argparse.ArgumentParser] = {}  # by name, to suggest a subcommand's flags


class UsageError(DeltapropError):
    """A bad combination of command-line options (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2, as argparse does but shorter
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

    parser = _Parser(
        prog="deltaprop",
        description="Train, inspect and check fully connected neural networks.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        import_module(f"{__name__}.{name}").register(subparsers)
    SUBPARSERS.update(subparsers.choices)
    return parser


def _unknown_arguments(parser: argparse.ArgumentParser, unknown: list[str]) -> None:
    """Exit 2 naming the first unknown argument and, for a misspelled flag, the closest one."""
    from ..suggest import closest

    flags = [flag for action in parser._actions for flag in action.option_strings]
    first = unknown[0].split("=")[0]
    hint = closest(first, flags) if first.startswith("-") else ""
    parser.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


@abort_on_failure  # under mpiexec, a rank that fails must end the others, not leave them waiting
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _unknown_arguments(SUBPARSERS.get(args.command, parser), unknown)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        _startup.release()  # every module is imported: Ctrl-C is KeyboardInterrupt again
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("deltaprop: interrupted", file=sys.stderr)
        return 130
    except UsageError as error:
        if args.debug:
            raise
        print(f"deltaprop {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (DeltapropError, OSError, ValueError) as error:
        if args.debug:
            raise
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"deltaprop {args.command}: error: {message}", file=sys.stderr)
        return 1
    except MemoryError as error:  # numpy's says how much it asked for: that is the true reason
        if args.debug:
            raise
        said = str(error).splitlines()[0] if str(error) else "an allocation failed"
        hint = ": use a smaller --batch-size, --limit or network" if args.command == "train" else ""
        print(f"deltaprop {args.command}: error: out of memory ({said}){hint}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: still one line, and the way to see more
        if args.debug:
            raise
        message = str(error).splitlines()[0] if str(error) else ""
        print(
            f"deltaprop {args.command}: internal error: {type(error).__name__}: {message} "
            "(rerun with --debug for the traceback and report it)",
            file=sys.stderr,
        )
        return 1
