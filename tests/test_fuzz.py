"""Property tests: random bytes and mutated valid files never get past the readers' checks.

Whatever the input, ``deltaprop.load``, ``io.load_checkpoint``, ``datafiles.read_idx``,
``datafiles.load_csv`` and ``datafiles.load_npz`` either return a well-formed result or raise
one of deltaprop's own errors: never another exception, and never an allocation much larger
than the file (measured with tracemalloc, which sees NumPy's buffers). The mutations are the
ways real files go wrong: bit flips and truncation from bad disks and interrupted copies, and
header edits (huge sizes, wrong dtypes, negative shapes, offsets past the end, non-JSON, JSON
that is not an object, tensors missing or added) from forged or foreign files.

Hypothesis runs derandomized (tests/conftest.py), so every machine runs the same inputs;
``FUZZED_INPUTS`` is their total.
"""

from __future__ import annotations

import gzip
import io as bytes_io
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from craft import build, join, split, tensors_of
from hypothesis import example, given, settings
from hypothesis import strategies as st

import deltaprop as dp
from deltaprop import datafiles, images, io
from deltaprop.errors import DataError, DeltapropError
from deltaprop.memory import MAX_DEFLATE_RATIO

EXAMPLES = {
    "random_bytes_model": 300,
    "mutated_model": 600,
    "forged_document": 300,
    "mutated_checkpoint": 300,
    "mutated_idx": 400,
    "random_bytes_idx": 200,
    "mutated_csv": 400,
    "random_bytes_csv": 200,
    "csv_like_text": 150,
    "any_text_csv": 150,
    "random_bytes_npz": 150,
    "forged_npz": 300,
    "expanding_gzip_idx": 150,
    "forged_zip_sizes": 150,
    "image_headers": 150,
}
FUZZED_INPUTS = sum(EXAMPLES.values())
SLACK = 4_000_000  # bytes any read may allocate beyond a few times the file's size


def bounded(call, path: Path):
    """Run ``call(path)``; return its result or the DeltapropError it raised.

    Fails if any other exception escapes or if the peak allocation exceeds a few times the
    file's size: a reader must never trust a size the file declares.
    """
    limit = 4 * path.stat().st_size + SLACK
    tracemalloc.start()
    try:
        result = call(path)
    except DeltapropError as error:
        result = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= limit, f"{call.__name__} allocated {peak} bytes for a {limit}-byte budget"
    return result


# --------------------------------------------------------------------------- model files

EVIL_VALUES = st.sampled_from(
    [
        None,
        True,
        -1,
        0,
        1,
        3.5,
        2**31,
        2**63,
        -(2**63),
        10**30,
        "F32",
        "I64",
        "",
        "x" * 300,
        [],
        [-1],
        [2**62, 2**62],
        [0, 2**64],
        [1.5, 2],
        [[1]],
        {},
        {"a": 1},
    ]
)
ENTRY_KEYS = st.sampled_from(["dtype", "shape", "data_offsets", "extra"])


def _network(kind: str) -> dp.Network:
    if kind == "regressor64":
        return dp.Network.from_sizes([3, 4, 2], output=None, loss="mse", dtype="float64", seed=1)
    if kind == "binary":
        return dp.Network.from_sizes([3, 1], output="sigmoid", loss="bce", seed=2)
    return dp.Network.from_sizes([3, 5, 4], hidden="tanh", seed=3)


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, bytes]:
    """Valid model and checkpoint files of a few architectures and dtypes."""
    directory = tmp_path_factory.mktemp("valid")
    files = {}
    for kind in ("classifier", "regressor64", "binary"):
        _network(kind).save(directory / kind)
        files[kind] = (directory / kind).read_bytes()
    network, rng = _network("classifier"), np.random.default_rng(0)
    network.fit(
        rng.random((12, 3)),
        rng.integers(0, 4, 12),
        epochs=2,
        batch_size=5,
        optimizer=dp.Adam(),
        checkpoint=directory / "checkpoint",
    )
    files["checkpoint"] = (directory / "checkpoint").read_bytes()
    return files


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load(path: Path):
    network = dp.load(path)
    assert all(np.isfinite(p).all() for p in network.parameters())
    return network


def _resume(path: Path):
    network, optimizer = _network("classifier"), dp.Adam()
    return io.load_checkpoint(path, network, optimizer)


@settings(max_examples=EXAMPLES["random_bytes_model"])
@given(
    prefix=st.sampled_from([b"", struct.pack("<Q", 2), struct.pack("<Q", 40), b"\xff" * 8]),
    data=st.binary(max_size=300),
)
@example(prefix=struct.pack("<Q", 2**64 - 1), data=b"{}")
@example(prefix=struct.pack("<Q", 16 * 2**20), data=b"{}")
def test_random_bytes_never_load(scratch, prefix, data):
    path = scratch / "random.safetensors"
    path.write_bytes(prefix + data)
    assert isinstance(bounded(_load, path), DeltapropError)


def _mutations(draw, data: bytes) -> bytes:
    """One of the ways a file goes wrong, applied to the bytes of a valid file."""
    kind = draw(
        st.sampled_from(
            ["flip", "truncate", "append", "size", "entry", "drop", "add", "header", "splice"]
        )
    )
    header, body = split(data)
    names = sorted(name for name in header if name != "__metadata__")
    if kind == "flip":
        flipped = bytearray(data)
        for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            flipped[position] ^= 1 << draw(st.integers(0, 7))
        return bytes(flipped)
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=64))
    if kind == "size":
        size = draw(st.sampled_from([0, 1, 7, 2**31, 2**63, 2**64 - 1]) | st.integers(0, 4096))
        return struct.pack("<Q", size) + data[8:]
    if kind == "entry":
        name = draw(st.sampled_from(names))
        header[name][draw(ENTRY_KEYS)] = draw(EVIL_VALUES)
    elif kind == "drop":
        del header[draw(st.sampled_from([*names, "__metadata__"]))]
    elif kind == "add":
        header[draw(st.text(max_size=12))] = draw(EVIL_VALUES | st.just(header[names[0]]))
    elif kind == "header":
        return join(
            draw(
                st.sampled_from(
                    [b"", b"[]", b"null", b"7", b'"x"', b"{", b"\xff\xfe", b"[" * 5000, b"{}"]
                )
            ),
            body,
        )
    else:  # splice: the header of one tensor pointing at another's bytes
        first, second = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        header[first]["data_offsets"] = header[second]["data_offsets"]
    return join(header, body)


@settings(max_examples=EXAMPLES["mutated_model"])
@given(data=st.data(), kind=st.sampled_from(["classifier", "regressor64", "binary"]))
def test_mutated_model_files_load_or_raise_deltaprop_errors(valid_files, scratch, data, kind):
    path = scratch / "mutated.safetensors"
    path.write_bytes(_mutations(data.draw, valid_files[kind]))
    bounded(_load, path)


DOCUMENT_PATHS = st.sampled_from(
    [
        ("format",),
        ("format_version",),
        ("kind",),
        ("architecture",),
        ("architecture", "layers"),
        ("architecture", "loss"),
        ("architecture", "loss_config"),
        ("architecture", "dtype"),
        ("architecture", "seed"),
        ("architecture", "layers", 0),
        ("architecture", "layers", 0, "n_in"),
        ("architecture", "layers", 0, "n_out"),
        ("architecture", "layers", 0, "activation"),
        ("architecture", "layers", 0, "activation_config"),
        ("architecture", "layers", 0, "init"),
        ("architecture", "layers", 0, "dropout"),
        ("history",),
        ("history", "metrics"),
        ("history", "grad_norms"),
    ]
)


def _set(document: dict, path: tuple, value) -> None:
    target = document
    for key in path[:-1]:
        if isinstance(target, dict):
            target = target.setdefault(key, {})
        elif isinstance(target, list) and target and isinstance(key, int):
            target = target[key]
        else:
            return
    settable_list = isinstance(target, list) and target and isinstance(path[-1], int)
    if isinstance(target, dict) or settable_list:
        target[path[-1]] = value


@settings(max_examples=EXAMPLES["forged_document"])
@given(
    kind=st.sampled_from(["classifier", "regressor64", "binary"]),
    edits=st.lists(
        st.tuples(DOCUMENT_PATHS, EVIL_VALUES | st.sampled_from(["relu", "mse", "float64"])),
        min_size=1,
        max_size=3,
    ),
)
def test_forged_documents_with_a_valid_hash_load_or_raise(valid_files, scratch, kind, edits):
    """The hash covers the tensors only: a forged document must be caught by the checks."""
    document, tensors = tensors_of(valid_files[kind])
    for where, value in edits:
        _set(document, where, value)
    path = scratch / "forged.safetensors"
    path.write_bytes(build(document, tensors))
    bounded(_load, path)


CHECKPOINT_PATHS = st.sampled_from(
    [
        ("optimizer",),
        ("optimizer", "name"),
        ("optimizer", "iterations"),
        ("rng_state",),
        ("rng_state", "state"),
        ("position",),
        ("position", "epoch"),
        ("position", "step"),
        ("position", "epoch_rng_state"),
        ("position", "grad_norm_sums"),
        ("position", "loss_sum"),
        ("position", "stopped"),
        ("position", "extra"),
        ("history",),
        ("callbacks",),
    ]
)


@settings(max_examples=EXAMPLES["mutated_checkpoint"])
@given(
    data=st.data(),
    edits=st.lists(st.tuples(CHECKPOINT_PATHS, EVIL_VALUES), max_size=2),
    drop=st.sampled_from([None, "optimizer.m.0", "optimizer.v.3", "0.bias"]),
    reshape=st.booleans(),
)
def test_mutated_checkpoints_resume_or_raise(valid_files, scratch, data, edits, drop, reshape):
    document, tensors = tensors_of(valid_files["checkpoint"])
    tensors = dict(tensors)
    for where, value in edits:
        _set(document, where, value)
    if drop:
        tensors.pop(drop)
    if reshape:
        tensors["optimizer.m.1"] = np.zeros(9, np.float32)
    path = scratch / "checkpoint.safetensors"
    raw = build(document, tensors)
    if data.draw(st.booleans()):
        raw = _mutations(data.draw, raw)
    path.write_bytes(raw)
    result = bounded(_resume, path)
    if not edits and not drop and not reshape and not isinstance(result, DeltapropError):
        assert result[1].epoch == 2


# --------------------------------------------------------------------------- IDX


def _idx(array: np.ndarray, code: int) -> bytes:
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return bytes([0, 0, code, array.ndim]) + dims + array.tobytes()


VALID_IDX = [
    _idx(np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3), 0x08),
    _idx(np.arange(5, dtype=np.uint8), 0x08),
    _idx(np.linspace(0, 1, 6).astype(">f4").reshape(2, 3), 0x0D),
    _idx(np.arange(4).astype(">i4"), 0x0C),
]


def _read_idx(path: Path) -> np.ndarray:
    array = datafiles.read_idx(path)
    assert array.nbytes <= path.stat().st_size
    return array


def _idx_mutation(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "append", "magic", "code", "ndim", "dim"]))
    if kind == "flip":
        flipped = bytearray(data)
        for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=4)):
            flipped[position] ^= 1 << draw(st.integers(0, 7))
        return bytes(flipped)
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "append":
        return data + draw(st.binary(min_size=1, max_size=16))
    if kind == "magic":
        return draw(st.binary(min_size=2, max_size=2)) + data[2:]
    if kind == "code":
        return data[:2] + bytes([draw(st.integers(0, 255))]) + data[3:]
    if kind == "ndim":
        return data[:3] + bytes([draw(st.integers(0, 255))]) + data[4:]
    ndim = data[3]
    index = draw(st.integers(0, ndim - 1))
    value = draw(st.sampled_from([0, 1, 2**16, 2**31, 2**32 - 1]) | st.integers(0, 64))
    start = 4 + 4 * index
    return data[:start] + struct.pack(">I", value) + data[start + 4 :]


@settings(max_examples=EXAMPLES["mutated_idx"])
@given(data=st.data(), which=st.integers(0, len(VALID_IDX) - 1), gz=st.booleans())
def test_mutated_idx_files_read_or_raise(scratch, data, which, gz):
    raw = _idx_mutation(data.draw, VALID_IDX[which])
    path = scratch / ("mutated.idx.gz" if gz else "mutated.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    bounded(_read_idx, path)


# No magic number, then those of 1-D uint8, 2-D float32 and 3-D float64 arrays.
IDX_MAGICS = [b"", b"\x00\x00\x08\x01", b"\x00\x00\x0d\x02", b"\x00\x00\x0e\x03"]


@settings(max_examples=EXAMPLES["random_bytes_idx"])
@given(
    magic=st.sampled_from(IDX_MAGICS),
    data=st.binary(max_size=200),
    gz=st.booleans(),
    compress=st.booleans(),
)
def test_random_bytes_as_idx_read_or_raise(scratch, magic, data, gz, compress):
    path = scratch / ("random.idx.gz" if gz else "random.idx")
    # A .gz name on bytes that are not gzip: the gunzip step must refuse.
    path.write_bytes(gzip.compress(magic + data) if compress else magic + data)
    bounded(_read_idx, path)


# --------------------------------------------------------------------------- CSV

VALID_CSV = "label,a,b,c\n1,0.5,2,3\n0,1e-3,-4,5.5\n2,7,8,9\n1,0,0,0\n"
CSV_PIECES = st.sampled_from(
    [
        *["", ",", ",,", "\n", "\r\n", "\n\n", " ", "\t", '"', ";", "\x00", "\ufeff", "é"],
        *["x", "label", "nan", "inf", "-", ".", "-1", "1.5", "1e5", "1e999", "0x1F", "9" * 400],
    ]
)


def _load_csv(path: Path):
    (x, y), (x_test, _) = datafiles.load_csv(path)
    assert np.isfinite(x).all() and x.dtype == np.float32 and y.dtype == np.int64
    assert len(x) >= 1 and x.shape[1] == x_test.shape[1] >= 1 and (y >= 0).all()
    return x


@settings(max_examples=EXAMPLES["mutated_csv"])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID_CSV)), st.integers(0, 3), CSV_PIECES),
        min_size=1,
        max_size=4,
    ),
    gz=st.booleans(),
)
def test_mutated_csv_files_load_or_raise(scratch, edits, gz):
    text = VALID_CSV
    for position, removed, piece in edits:
        text = text[:position] + piece + text[position + removed :]
    raw = text.encode("utf-8")
    path = scratch / ("mutated.csv.gz" if gz else "mutated.csv")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    bounded(_load_csv, path)


@settings(max_examples=EXAMPLES["random_bytes_csv"])
@given(data=st.binary(max_size=200))
@example(data=b"1,2\n3")  # ragged
@example(data=b"a,b\n")  # a header and no rows
@example(data=b"\xff\xfe1,2\n")  # not UTF-8
def test_random_bytes_as_csv_load_or_raise(scratch, data):
    path = scratch / "random.csv"
    path.write_bytes(data)
    bounded(_load_csv, path)


@settings(max_examples=EXAMPLES["csv_like_text"])
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,-+eE \t\r\nna,x1_")), max_size=60))
def test_csv_like_text_loads_or_raises(scratch, text):
    path = scratch / "text.csv"
    path.write_text(text, encoding="utf-8", newline="")
    bounded(_load_csv, path)


@settings(max_examples=EXAMPLES["any_text_csv"])
@given(text=st.text(max_size=40))
def test_any_text_as_csv_loads_or_raises(scratch, text):
    path = scratch / "any.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    bounded(_load_csv, path)


# --------------------------------------------------------------------------- npz

NPZ_ARRAYS = {
    "x_train": np.arange(12, dtype=np.float32).reshape(4, 3),
    "y_train": np.array([0, 1, 2, 1]),
    "x_test": np.ones((2, 3), np.float32),
    "y_test": np.array([1, 0]),
}
NPY_DESCRS = ["<f8", "<f4", "|u1", ">i4", "<i8", "|O", "<U3", "|V8", "<c16", "|b1"]
NPY_SHAPES = [(), (0,), (4,), (4, 3), (3, 4), (2**31,), (10**5, 10**5), (2**62, 2**62, 4)]


def _npy(array: np.ndarray, descr: str | None, shape: tuple | None) -> bytes:
    """The .npy bytes of ``array``, its header's descr or shape replaced when given."""
    stream = bytes_io.BytesIO()
    fields = {
        "descr": descr or np.lib.format.dtype_to_descr(array.dtype),
        "fortran_order": False,
        "shape": array.shape if shape is None else shape,
    }
    np.lib.format.write_array_header_1_0(stream, fields)
    return stream.getvalue() + array.tobytes()


def _load_npz(path: Path):
    (x, _), (x_test, _) = datafiles.load_npz(path)
    assert x.nbytes + x_test.nbytes <= 10 * path.stat().st_size + SLACK
    return x


@settings(max_examples=EXAMPLES["forged_npz"])
@given(
    member=st.sampled_from(sorted(NPZ_ARRAYS)),
    descr=st.none() | st.sampled_from(NPY_DESCRS),
    shape=st.none() | st.sampled_from(NPY_SHAPES),
    drop=st.booleans(),
    data=st.data(),
)
def test_forged_npz_members_load_or_raise(scratch, member, descr, shape, drop, data):
    stream = bytes_io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        for key, array in NPZ_ARRAYS.items():
            if key == member and drop:
                continue
            forged = (descr, shape) if key == member else (None, None)
            archive.writestr(f"{key}.npy", _npy(array, *forged))
    raw = stream.getvalue()
    if data.draw(st.booleans()):  # and then damage the archive itself
        raw = _flip_or_cut(data.draw, raw)
    path = scratch / "forged.npz"
    path.write_bytes(raw)
    bounded(_load_npz, path)


def _flip_or_cut(draw, data: bytes) -> bytes:
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data) - 1))]
    flipped = bytearray(data)
    for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=4)):
        flipped[position] ^= 1 << draw(st.integers(0, 7))
    return bytes(flipped)


@settings(max_examples=EXAMPLES["random_bytes_npz"])
@given(
    prefix=st.sampled_from([b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00"]), data=st.binary(max_size=80)
)
@example(prefix=b"\x93NUMPY\x01\x00", data=b"\x08\x00" + b"\x00" * 7 + b"{")  # tokenize error
def test_random_bytes_as_npz_raise_data_error(scratch, prefix, data):
    path = scratch / "random.npz"
    path.write_bytes(prefix + data)
    assert isinstance(bounded(_load_npz, path), DataError)


# --------------------------------------------------------------------------- files that expand

HUGE = st.sampled_from([0, 1, 2, 1000, 2**16, 2**24, 2**31, 2**32 - 1]) | st.integers(0, 64)


def _read_expanding_idx(path: Path) -> np.ndarray:
    array = datafiles.read_idx(path)
    assert array.nbytes <= MAX_DEFLATE_RATIO * path.stat().st_size
    return array


@settings(max_examples=EXAMPLES["expanding_gzip_idx"])
@given(dims=st.lists(HUGE, min_size=1, max_size=3), zeros=st.integers(0, 2_000_000))
@example(dims=[2, 2], zeros=2_000_000)  # 4 bytes declared, 2 MB there: nothing beyond is read
@example(dims=[2**31, 2**31], zeros=100)  # declared far beyond what 100 gzipped bytes hold
def test_gzip_idx_files_that_expand_read_or_raise_within_their_header(scratch, dims, zeros):
    header = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    path = scratch / "expanding.idx.gz"
    path.write_bytes(gzip.compress(header + bytes(zeros), compresslevel=9))
    bounded(_read_expanding_idx, path)


@settings(max_examples=EXAMPLES["forged_zip_sizes"])
@given(
    member=st.sampled_from(sorted(NPZ_ARRAYS)),
    shape=st.none() | st.sampled_from([(2**28,), (2**20, 2**10), (10**5, 10**5), (0,)]),
    size=st.sampled_from([0, 1, 2**20, 2**31, 2**32 - 1]),
    deflated=st.booleans(),
)
def test_npz_with_forged_zip_sizes_load_or_raise(scratch, member, shape, size, deflated):
    """The ZIP directory's uncompressed sizes are forged; no reader may believe them."""
    stream = bytes_io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
    with zipfile.ZipFile(stream, "w", method) as archive:
        for key, array in NPZ_ARRAYS.items():
            archive.writestr(f"{key}.npy", _npy(array, None, shape if key == member else None))
    raw = bytearray(stream.getvalue())
    forged = struct.pack("<I", size)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = raw.find(signature)
        while start >= 0:
            raw[start + offset : start + offset + 4] = forged
            start = raw.find(signature, start + 1)
    path = scratch / "forged-sizes.npz"
    path.write_bytes(bytes(raw))
    bounded(_load_npz, path)


def _png(width: int, height: int, mode: tuple[int, int], pixels: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, *mode, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _image(path: Path) -> np.ndarray:
    return images.image_to_input(path, 784)


@settings(max_examples=EXAMPLES["image_headers"])
@given(
    width=st.sampled_from([1, 28, 5000, 20000, 2**16, 2**31 - 1]) | st.integers(1, 64),
    height=st.sampled_from([1, 28, 5000, 20000, 2**16, 2**31 - 1]) | st.integers(1, 64),
    mode=st.sampled_from([(1, 0), (8, 0), (8, 2), (8, 6), (16, 0)]),
    pixels=st.binary(max_size=512),
)
def test_png_headers_of_any_size_read_or_raise(scratch, width, height, mode, pixels):
    path = scratch / "digit.png"
    path.write_bytes(_png(width, height, mode, pixels))
    bounded(_image, path)
