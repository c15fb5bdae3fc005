"""How much memory a read may take: checked before allocating what a file's header declares.

A small file can declare (or decompress to) gigabytes. Readers compare the bytes they are about
to allocate with :func:`available_bytes` and refuse with the true reason ("needs 3.0 GB, 1.2 GB
is available") instead of failing later with a bare ``MemoryError``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InsufficientMemoryError

#: The largest ratio of output to input that deflate (gzip, zip) can reach: about 1032:1.
MAX_DEFLATE_RATIO = 1032


def available_bytes() -> int | None:
    """Bytes this process can still allocate, or None when the system does not say.

    The smallest of: the kernel's estimate of available memory (``MemAvailable``), the room
    left under a cgroup (container) memory limit, and the room left under ``ulimit -v``.
    """
    limits = [_meminfo_available(), _cgroup_room(), _address_space_room()]
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def check_allocation(nbytes: int, what: str) -> None:
    """Refuse to allocate ``nbytes`` for ``what`` when the machine does not have them."""
    available = available_bytes()
    if available is not None and nbytes > available:
        raise InsufficientMemoryError(
            f"{what} needs {format_bytes(nbytes)} of memory but only {format_bytes(available)} "
            "is available: use a smaller file or a machine with more memory"
        )


def format_bytes(nbytes: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes} bytes"


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_room() -> int | None:
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((root / "memory.current").read_text()), 0)
    except (OSError, ValueError):
        return None


def _address_space_room() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(soft - int(line.split()[1]) * 1024, 0)
    except (ImportError, OSError, ValueError, IndexError):
        pass
    return None
