"""The paths a user names: read only when they are regular files, compared as files, probed
for writing before any work is done.

Readers open user files with :func:`open_regular`, which refuses FIFOs, devices and directories,
so that no read blocks forever. :func:`same_file` compares files, not spellings (relative or
absolute paths, symbolic and hard links), and :func:`check_writable` finds an output that cannot
be written before training rather than after; the command line's ``check_outputs`` uses both.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import DataError, DataNotFoundError, OutputError

PathLike = str | os.PathLike


def open_regular(
    path: PathLike, what: str = "data file", error: type = DataError, missing: type | None = None
):
    """Open ``path`` for binary reading if it is a regular file (never a FIFO, device or
    directory, which would block or never end). The caller closes the returned file.

    ``what`` names the file in messages ("model file", "image", ...); ``error`` is the class
    raised for a path that is not a readable regular file, ``missing`` (default
    ``DataNotFoundError``) the one for a path that does not exist.
    """
    path = Path(path)
    try:
        check_regular(path, what, error)
        return open(path, "rb")
    except FileNotFoundError:
        raise (missing or DataNotFoundError)(f"{what} {path} does not exist") from None
    except OSError as failure:
        raise error(f"cannot read {what} {path}: {failure.strerror or failure}") from None


def check_regular(path: PathLike, what: str = "data file", error: type = DataError) -> None:
    """Refuse a ``path`` that exists but is not a regular file (a directory, FIFO or device);
    ``FileNotFoundError`` when it does not exist."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise error(f"{path} is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        raise error(f"{path} is not a regular file (a pipe or a device?): give a {what} on disk")


def same_file(first: PathLike, second: PathLike) -> bool:
    """Whether two paths name the same file (same device and inode), through any links.

    A path that does not exist is the same as no existing file; two paths that do not exist
    yet are the same when they resolve to the same place (they would become one file).
    """
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.realpath(first) == os.path.realpath(second)


def check_writable(path: PathLike, what: str) -> None:
    """Fail now if ``path`` could not be written later: its directory is missing or not a
    directory, ``path`` is a directory, or a file cannot be created beside it (read-only file
    system, no permission). The probe is a real temporary file, removed at once."""
    path = Path(path)
    directory = path.parent
    if not directory.is_dir():
        problem = "does not exist" if not directory.exists() else "is not a directory"
        raise OutputError(f"{what} {path}: directory {directory} {problem}")
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory: give a file name")
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=directory)
    except OSError as failure:
        raise OutputError(
            f"{what} {path}: cannot write in {directory} ({failure.strerror or failure})"
        ) from None
    os.close(handle)
    os.unlink(probe)


def check_writable_directory(directory: PathLike, what: str) -> None:
    """Fail now if ``directory`` cannot be created (where it is missing) and written into."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{what} {directory} is a file: give a directory")
    parent = directory
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{what} {directory}: {parent} is a file, not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".probe.", dir=parent))
    except OSError as failure:
        raise OutputError(
            f"{what} {directory}: cannot write in {parent} ({failure.strerror or failure})"
        ) from None
