"""Small files that declare huge contents, for the tests that memory stays bounded.

Each is a few kilobytes on disk; reading what it declares would take gigabytes.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np


def npz_bomb(path: Path) -> Path:
    """An .npz whose deflated x_train declares 2**28 float64 values (2 GB) and whose ZIP
    directory agrees (forged sizes), while its compressed bytes hold a few kilobytes."""
    header = io.BytesIO()
    fields = {"descr": "<f8", "fortran_order": False, "shape": (2**28,)}
    np.lib.format.write_array_header_1_0(header, fields)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x_train.npy", header.getvalue() + bytes(4096))
        for key in ("y_train", "x_test", "y_test"):
            stream = io.BytesIO()
            np.save(stream, np.zeros(1))
            archive.writestr(f"{key}.npy", stream.getvalue())
    data = bytearray(path.read_bytes())
    forged = struct.pack("<I", 2**31 + 1024)  # the uncompressed size, in both headers
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.index(signature)
        data[start + offset : start + offset + 4] = forged
    path.write_bytes(bytes(data))
    return path


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A PNG of 1-bit pixels declaring ``width`` x ``height``, a few dozen bytes on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path
