"""Build safetensors files byte by byte, valid or broken on purpose, for the error and fuzz tests.

A deltaprop file is ``<u64 header size> <JSON header> <tensor bytes>``; these helpers take it
apart and put it back together so that a test can change exactly one thing (a shape, an
offset, the metadata) and, where it wants, recompute the content hash so that the change is
not caught by the hash but by the check under test.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from deltaprop.io import content_hash

DTYPE_NAMES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}


def split(data: bytes) -> tuple[dict, bytes]:
    """``(header, body)`` of a well-formed safetensors file."""
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def join(header: dict | list | bytes, body: bytes, header_size: int | None = None) -> bytes:
    """A file from a header (JSON-encoded unless bytes) and a body; ``header_size`` may lie."""
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    size = len(blob) if header_size is None else header_size
    return struct.pack("<Q", size) + blob + body


def tensors_of(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """``(document, tensors)`` of a deltaprop file, read without deltaprop's checks."""
    header, body = split(data)
    metadata = header.pop("__metadata__")
    tensors = {}
    for name, entry in header.items():
        dtype = np.dtype(np.float32 if entry["dtype"] == "F32" else np.float64)
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(entry["shape"])
    return json.loads(metadata["deltaprop"]), tensors


def build(document: dict, tensors: dict[str, np.ndarray], rehash: bool = True) -> bytes:
    """A deltaprop file holding ``tensors``, with ``document`` as its metadata.

    With ``rehash`` the document's ``sha256`` is recomputed, so the file passes the hash check.
    """
    if rehash:
        document = {**document, "sha256": content_hash(tensors, document)}
    header: dict = {"__metadata__": {"deltaprop": json.dumps(document)}}
    body = b""
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        header[name] = {
            "dtype": DTYPE_NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [len(body), len(body) + array.nbytes],
        }
        body += array.tobytes()
    return join(header, body)
