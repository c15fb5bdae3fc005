"""Options that can come from three places: built-in defaults < a TOML file < the command line.

A subcommand declares its options as ``Option`` objects. Their argparse defaults are
``SUPPRESS``, so the parsed namespace holds only what the user typed; ``resolve`` lays that over
the file's values and the defaults. A file's keys are the option names with dashes or
underscores; its values go through the same checks as the command line's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..suggest import closest
from . import UsageError


@dataclass(frozen=True)
class Option:
    """One ``--flag``: its argparse type (``None`` for an on/off switch), default and help."""

    flag: str
    type: Callable[[str], Any] | None
    default: Any
    help: str
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        shown = "" if self.default in (None, False) else f" (default: {_show(self.default)})"
        if self.type is None:
            parser.add_argument(
                self.flag, action="store_true", default=argparse.SUPPRESS, help=self.help
            )
        else:
            parser.add_argument(
                self.flag,
                type=self.type,
                default=argparse.SUPPRESS,
                metavar=self.metavar,
                help=self.help + shown,
            )

    def from_file(self, value: Any, where: str) -> Any:
        """Check a TOML value as if it had been typed after the flag."""
        if self.type is None:
            if not isinstance(value, bool):
                raise UsageError(f"{where} must be true or false, got {value!r}")
            return value
        if isinstance(value, list):
            value = ",".join(str(item) for item in value)
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise UsageError(f"{where} must be a string or a number, got {value!r}")
        try:
            return self.type(str(value))
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"{where}: {error}") from None


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def read_config(path: str | Path, options: Sequence[Option]) -> dict[str, Any]:
    """The checked settings of a TOML file, by option ``dest``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise UsageError("--config needs Python 3.11 or the tomli package") from None
    from ..files import open_regular

    try:
        with open_regular(path, "TOML file", UsageError, missing=UsageError) as file:
            document = tomllib.load(file)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"--config {path} is not valid TOML: {error}") from None
    by_dest = {option.dest: option for option in options if option.dest != "config"}
    settings = {}
    for key, value in document.items():
        dest = key.replace("-", "_")
        if dest not in by_dest:
            names = [d.replace("_", "-") for d in by_dest]
            raise UsageError(
                f"--config {path}: unknown key {key!r}"
                f"{closest(key.replace('_', '-'), names)}; keys are the options of this "
                "command, e.g. layers, lr, batch-size"
            )
        settings[dest] = by_dest[dest].from_file(value, f"--config {path}: {key}")
    return settings


def resolve(
    args: argparse.Namespace, options: Sequence[Option], *layers: dict[str, Any]
) -> dict[str, Any]:
    """Defaults, then each of ``layers`` in turn, then what was typed on the command line."""
    settings = {option.dest: option.default for option in options}
    for layer in layers:
        settings.update(layer)
    typed = {option.dest for option in options if hasattr(args, option.dest)}
    settings.update({dest: getattr(args, dest) for dest in typed})
    return settings
