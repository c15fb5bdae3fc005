"""Reading data files: IDX, CSV and ``.npz``, each into a train and a test set.

Every loader returns ``(x_train, y_train), (x_test, y_test)``: ``x`` holds one example per row
(shape ``(N, features)``, or ``(N, rows, cols)`` for unflattened images) and ``y`` the integer
class labels, dtype ``int64``, shape ``(N,)``. With ``normalize=True`` the inputs are ``float32``
scaled to ``[0, 1]``; otherwise images stay ``uint8`` and CSV values ``float64``.

A malformed file raises :class:`~deltaprop.errors.DataError` naming the file and the problem (for
CSV, the line and column); a missing one :class:`~deltaprop.errors.DataNotFoundError`. Nothing is
allocated according to sizes a header declares before the file is known to hold them, and
``.npz`` files are never unpickled.

The helpers without a leading underscore but outside ``__all__`` (``read_table``,
``parse_table``, ``split_labels``, ``image_split``, ``read_idx_directory``) are shared with
:mod:`deltaprop.datasets`, which loads the well-known data sets, and with ``deltaprop predict``
(``read_table``).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import DataError, DataNotFoundError, DeltapropError, ValidationError
from .files import open_regular
from .memory import MAX_DEFLATE_RATIO, available_bytes, check_allocation
from .validation import declared_nbytes

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
PathLike = str | os.PathLike

__all__ = ["IDX_FILES", "load_csv", "load_idx", "load_npz", "read_idx"]

#: The names of the four arrays, in the order every loader returns them.
KEYS = ("x_train", "y_train", "x_test", "y_test")

#: The four files of an MNIST-like IDX directory, in the order of :data:`KEYS`.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# --------------------------------------------------------------------------- conversion


def _scale(x: np.ndarray, low: float, span: float) -> np.ndarray:
    """Return ``(x - low) / span`` as float32 (computed in float32 for 1- and 2-byte inputs)."""
    out = x.astype(np.float64 if x.dtype.itemsize > 2 else np.float32)
    with np.errstate(over="ignore"):  # only test values far outside the training range
        out -= low
        out /= span
        return out.astype(np.float32, copy=False)


def _flat(x: np.ndarray) -> np.ndarray:
    """Return ``x`` reshaped to ``(N, features)``."""
    return x.reshape(len(x), math.prod(x.shape[1:]))


def image_split(arrays: tuple[np.ndarray, ...], normalize: bool, flatten: bool, top: int) -> Split:
    """Turn raw images (uint8, values 0..top) and labels into a loader's return value."""
    x_train, y_train, x_test, y_test = arrays
    out = []
    for x in (x_train, x_test):
        if flatten:
            x = _flat(x)
        out.append(_scale(x, 0.0, float(top)) if normalize else x)
    return (out[0], y_train.astype(np.int64)), (out[1], y_test.astype(np.int64))


def _normalize_pair(
    x_train: np.ndarray, x_test: np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sets with the training set's range: uint8 by 1/255, anything else min-max.

    The map ``(x - min) / (max - min)`` uses the training set's global min and max, so the test
    set may fall slightly outside ``[0, 1]``. A constant training set maps to 0.
    """
    if x_train.dtype == np.uint8:
        low, high = 0.0, 255.0
    elif x_train.size:
        low, high = float(x_train.min()), float(x_train.max())
    else:
        low, high = 0.0, 1.0
    span = high - low
    if not math.isfinite(span):
        raise DataError(
            f"{name}: values range from {low:g} to {high:g}, too wide to normalize; "
            "pass normalize=False"
        )
    span = span or 1.0
    return _scale(x_train, low, span), _scale(x_test, low, span)


# --------------------------------------------------------------------------- IDX


_CHUNK = 1 << 20  # bytes decompressed at a time, so that a limit is checked as data arrives


def _read_bytes(path: PathLike) -> bytes:
    """Return the contents of ``path``, gunzipped when its name ends in ``.gz``.

    The memory this takes is checked first (a plain file's size; for gzip, as the data expands).
    """
    path = Path(path)
    with _open_data(path) as file:
        size = os.fstat(file.fileno()).st_size
        if path.suffix != ".gz":
            check_allocation(size, f"reading {path}")
            return file.read()
        available = available_bytes()
        chunks, total = [], 0
        with _gunzipped(file, path) as stream:
            while chunk := _read_chunk(stream, _CHUNK, path):
                total += len(chunk)
                if available is not None and total > available:
                    check_allocation(total, f"decompressing {path}")
                chunks.append(chunk)
    return b"".join(chunks)


def _open_data(path: Path):
    """``path`` opened for reading when it is a regular file (see ``files.open_regular``)."""
    if not path.exists():
        raise DataNotFoundError(f"{path}: no such file")
    return open_regular(path, "data file")


def _gunzipped(file, path: Path) -> gzip.GzipFile:
    return gzip.GzipFile(fileobj=file, mode="rb", filename=str(path))


def _read_chunk(stream, size: int, path: Path) -> bytes:
    """Up to ``size`` decompressed bytes of ``stream``; a broken gzip stream is a DataError."""
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file ({e})") from None


def _read_exactly(stream, size: int, path: Path) -> bytes:
    """``size`` bytes of a gzip or plain ``stream``, or all it has left if that is less."""
    return _fill(lambda n: _read_chunk(stream, n, path), size)


def _fill(read: Callable[[int], bytes], size: int) -> bytearray:
    """Up to ``size`` bytes from ``read(n)``, read a chunk at a time into one buffer, so that
    the memory taken is what the data really holds, never more than ``size``."""
    buffer, filled = bytearray(size), 0
    view = memoryview(buffer)
    while filled < size and (chunk := read(min(size - filled, _CHUNK))):
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    del view
    del buffer[filled:]
    return buffer


_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_MAX_DIMS = 32  # the most dimensions numpy < 2 allows in an array


def _read_idx_stream(stream, path: Path, stored: int, gzipped: bool) -> np.ndarray:
    """Decode one IDX file from ``stream`` (``stored`` bytes on disk); see :func:`read_idx`.

    The header is read and checked first, then exactly the bytes it declares, once they are
    known to fit in the file (for gzip: in what ``stored`` bytes can decompress to) and in
    memory; one byte more means trailing bytes, and nothing beyond it is decompressed.
    """
    name = str(path)
    magic = _read_exactly(stream, 4, path)
    if len(magic) < 4:
        raise DataError(f"{name}: {len(magic)} bytes is too short for an IDX header (4 bytes)")
    if magic[0] or magic[1]:
        raise DataError(
            f"{name}: not an IDX file: the magic number 0x{magic.hex().upper()} "
            "should start with two zero bytes"
        )
    code, ndim = magic[2], magic[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise DataError(f"{name}: unknown IDX data type code 0x{code:02X} (known: {known})")
    if not 1 <= ndim <= _IDX_MAX_DIMS:
        raise DataError(
            f"{name}: IDX header declares {ndim} dimensions, expected 1..{_IDX_MAX_DIMS}"
        )
    header = 4 + 4 * ndim
    dims_bytes = _read_exactly(stream, 4 * ndim, path)
    if len(dims_bytes) < 4 * ndim:
        raise DataError(
            f"{name}: truncated header: {ndim} dimensions need {header} bytes, the file has "
            f"{4 + len(dims_bytes)}"
        )
    dims = struct.unpack(f">{ndim}I", dims_bytes)
    dtype = np.dtype(_IDX_DTYPES[code])
    declared = math.prod(dims) * dtype.itemsize
    room = stored * MAX_DEFLATE_RATIO if gzipped else stored - header
    if declared > room:
        where = f"more than {stored} gzipped bytes can hold" if gzipped else ""
        where = where or f"but the file has {stored} bytes"
        raise DataError(
            f"{name}: truncated: the header declares shape {dims} of {dtype.name}, "
            f"{header + declared} bytes in all, {where}"
        )
    check_allocation(declared, f"reading {name} (shape {dims} of {dtype.name})")
    body = _read_exactly(stream, declared, path)
    found = header + len(body)
    if len(body) < declared:
        raise DataError(
            f"{name}: truncated: the header declares shape {dims} of {dtype.name}, "
            f"{header + declared} bytes in all, but the file has {found} bytes"
        )
    if _read_chunk(stream, 1, path):
        size = "more than that" if gzipped else f"{stored} bytes"
        raise DataError(
            f"{name}: has trailing bytes: the header declares shape {dims} of {dtype.name}, "
            f"{header + declared} bytes in all, but the file has {size}"
        )
    return np.frombuffer(body, dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: PathLike) -> np.ndarray:
    """Read one IDX file (plain, or gzipped when the name ends in ``.gz``).

    The header is validated before anything is allocated: two zero bytes, a known data type
    code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), 1 to 32
    dimensions, and a file length of exactly ``4 + 4 * ndim + prod(dims) * itemsize`` bytes.

    Parameters
    ----------
    path : str or os.PathLike
        The IDX file.

    Returns
    -------
    ndarray, shape dims
        The array the header declares, in native byte order, e.g. ``(60000, 28, 28)`` uint8
        for MNIST's training images and ``(60000,)`` uint8 for its labels.

    Raises
    ------
    DataError
        The file is not a valid IDX file; the message names the file and the problem.
    DataNotFoundError
        The file does not exist.
    """
    path = Path(path)
    with _open_data(path) as file:
        stored = os.fstat(file.fileno()).st_size
        if path.suffix != ".gz":
            return _read_idx_stream(file, path, stored, gzipped=False)
        with _gunzipped(file, path) as stream:
            return _read_idx_stream(stream, path, stored, gzipped=True)


def _idx_path(directory: Path, stem: str) -> Path:
    """Return ``directory/stem`` or ``directory/stem.gz``, whichever exists."""
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataNotFoundError(f"{directory}: neither {stem} nor {stem}.gz is there")


def read_idx_directory(directory: Path) -> tuple[np.ndarray, ...]:
    """Read and check the four IDX files; return (x_train, y_train, x_test, y_test)."""
    arrays = tuple(read_idx(_idx_path(directory, stem)) for stem in IDX_FILES)
    for images, labels, x, y in ((*IDX_FILES[:2], *arrays[:2]), (*IDX_FILES[2:], *arrays[2:])):
        if x.ndim != 3 or x.dtype != np.uint8 or y.ndim != 1 or y.dtype != np.uint8:
            raise DataError(
                f"{directory}: {images} should hold uint8 images (N, rows, cols) and {labels} "
                f"uint8 labels (N,), found {x.dtype} {x.shape} and {y.dtype} {y.shape}"
            )
        if len(x) != len(y):
            raise DataError(
                f"{directory}: {len(x)} images in {images}, {len(y)} labels in {labels}"
            )
    return arrays


def load_idx(directory: PathLike, normalize: bool = True, flatten: bool = True) -> Split:
    """Load an MNIST-like data set from the four standard IDX files in ``directory``.

    The files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or with ``.gz``.
    Unlike :func:`load_fashion_mnist`, nothing is pinned or cached.

    Parameters
    ----------
    directory : str or os.PathLike
        The directory holding the four files.
    normalize : bool, default True
        True: images become float32 in ``[0, 1]`` (divided by 255). False: raw uint8.
    flatten : bool, default True
        True: images have shape ``(N, rows * cols)``. False: ``(N, rows, cols)``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x`` of shape ``(N, rows * cols)`` or ``(N, rows, cols)``; ``y`` int64 of shape ``(N,)``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataNotFoundError(f"{directory}: no such directory")
    return image_split(read_idx_directory(directory), normalize, flatten, 255)


# --------------------------------------------------------------------------- CSV

_BOM = b"\xef\xbb\xbf"
_FAST_CHARS = {np.dtype(np.float64): b"0123456789.eE+-,", np.dtype(np.int32): b"0123456789,"}


def _int_cell(cell: bytes) -> int:
    """Parse a cell of ASCII digits (integer mode of :func:`read_table`)."""
    cell = cell.strip()
    if not cell.isdigit():
        raise ValueError(cell)
    return int(cell)


def _cell_parser(dtype: np.dtype) -> Callable[[bytes], float]:
    """Return the function that reads one cell in the slow path: ``float``, or digits only."""
    return _int_cell if dtype.kind == "i" else float


def _show(cell: bytes) -> str:
    """Return a cell as an error message quotes it: decoded, repr'd, at most 40 characters."""
    text = cell.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _parse_fast(rows: list[bytes], ncols: int, dtype: np.dtype) -> np.ndarray | None:
    """Parse rows of plain numbers in one NumPy call; None when anything looks unusual.

    Only cells made of the characters in ``_FAST_CHARS`` are parsed here (whitespace, empty
    cells, ``nan`` and anything else go to :func:`_parse_slow`, which names the bad cell). In
    integer mode values beyond int32 wrap around: callers check the result (MNIST by sha256).
    """
    joined = b",".join(rows)
    if joined.translate(None, _FAST_CHARS[dtype]):
        return None
    try:
        values = np.fromstring(joined, dtype=dtype, sep=",")
    except ValueError:
        return None
    if values.size != len(rows) * ncols:
        return None
    return values.reshape(len(rows), ncols)


def _parse_slow(
    rows: list[bytes], lines: list[int], ncols: int, dtype: np.dtype, name: str
) -> np.ndarray:
    """Parse cell by cell (Python's ``float``, or digits in integer mode) and name a bad cell."""
    parse = _cell_parser(dtype)
    table = np.empty((len(rows), ncols), dtype)
    for i, row in enumerate(rows):
        for j, cell in enumerate(row.split(b",")):
            try:
                table[i, j] = parse(cell)
            except (ValueError, OverflowError):
                raise DataError(
                    f"{name} line {lines[i]}, column {j + 1}: {_show(cell)} is not a number"
                ) from None
    return table


def read_table(
    path: PathLike, header: bool | None, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Read a comma-separated file of numbers (plain or ``.gz``): the one CSV reader.

    Training data (:func:`load_csv`), the inputs of ``deltaprop predict`` and MNIST's files all
    come through here. Blank lines are skipped and a UTF-8 byte order mark is ignored; a header
    is the first non-blank line, skipped when ``header`` is True, or when ``header`` is None and
    one of its cells is not a number.

    Returns
    -------
    table : ndarray, shape (rows, columns)
        The values, of ``dtype`` (float64, or int32 for digit-only files).
    lines : ndarray of int, shape (rows,)
        The 1-based line number of each row in the file, for error messages.
    """
    return parse_table(_read_bytes(path), str(path), header, dtype)


def parse_table(
    data: bytes, name: str, header: bool | None, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_table` for the contents of a file already read; ``name`` is for messages."""
    dtype = np.dtype(dtype)
    data = data[len(_BOM) :] if data.startswith(_BOM) else data
    rows, lines = [], []
    for number, line in enumerate(data.splitlines(), 1):
        line = line.strip()
        if line:
            rows.append(line)
            lines.append(number)
    if header is None and rows:
        parse = _cell_parser(dtype)
        try:
            [parse(cell) for cell in rows[0].split(b",")]
            header = False
        except (ValueError, OverflowError):
            header = True
    if header:
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise DataError(f"{name}: no data rows" + (" after the header" if header else ""))
    ncols = rows[0].count(b",") + 1
    counts = np.fromiter((row.count(b",") + 1 for row in rows), np.int64, len(rows))
    ragged = np.flatnonzero(counts != ncols)
    if ragged.size:
        i = ragged[0]
        raise DataError(
            f"{name} line {lines[i]}: {counts[i]} fields, expected {ncols} as on line {lines[0]}"
        )
    table = _parse_fast(rows, ncols, dtype)
    if table is None:
        table = _parse_slow(rows, lines, ncols, dtype, name)
    return table, np.asarray(lines)


def _bad_labels(labels: np.ndarray) -> np.ndarray:
    """Return the indices of the labels that are not integers in ``0 .. 2**53``."""
    y = labels.astype(np.float64)
    ok = np.isfinite(y) & (y >= 0) & (y < 2.0**53) & (y == np.floor(y))
    return np.flatnonzero(~ok)


def split_labels(
    table: np.ndarray, lines: np.ndarray, label_column: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split a float table into finite features (N, columns - 1) and int64 labels (N,)."""
    ncols = table.shape[1]
    if not -ncols <= label_column < ncols:
        raise DataError(
            f"{name}: label_column={label_column} but the rows have {ncols} columns "
            f"(allowed: {-ncols}..{ncols - 1})"
        )
    if ncols < 2:
        raise DataError(f"{name}: rows need a label and at least one feature, found 1 column")
    column = label_column % ncols
    labels = table[:, column]
    bad = _bad_labels(labels)
    if bad.size:
        raise DataError(
            f"{name} line {lines[bad[0]]}, column {column + 1}: label {labels[bad[0]]:g} "
            "is not a non-negative integer"
        )
    features = np.delete(table, column, axis=1)
    bad_cells = np.argwhere(~np.isfinite(features))
    if bad_cells.size:
        i, j = bad_cells[0]
        raise DataError(
            f"{name} line {lines[i]}, column {j + (j >= column) + 1}: "
            f"value {features[i, j]:g} is not finite"
        )
    return features, labels.astype(np.int64)


def load_csv(
    path: PathLike,
    label_column: int = 0,
    *,
    header: bool | None = None,
    test_fraction: float = 0.2,
    seed: int | None = 0,
    normalize: bool = True,
) -> Split:
    """Load a comma-separated file of labelled examples and split it into train and test sets.

    Each row is one example: a label (a non-negative integer) and numeric features. Cells are
    read as Python's ``float`` reads them; quoting is not supported. Blank lines are skipped and
    a UTF-8 byte order mark is ignored. A ``.gz`` file is gunzipped.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    label_column : int, default 0
        Which column holds the label; negative counts from the end (-1 is the last column).
    header : bool or None, default None
        True: the first non-blank line is a header and is skipped. False: every line is data.
        None: the first line is taken for a header when one of its cells is not a number.
    test_fraction : float, default 0.2
        The share of rows, in ``[0, 1)``, put in the test set (``round(N * test_fraction)`` rows).
    seed : int or None, default 0
        The rows are shuffled with ``numpy.random.default_rng(seed)`` before the split, so a seed
        always gives the same split. None: no shuffle, the last rows are the test set.
    normalize : bool, default True
        True: features become float32, scaled by the training set's global minimum and maximum
        to ``[0, 1]`` (the test set may fall slightly outside). False: raw float64 values.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x`` of shape ``(N, columns - 1)``; ``y`` int64 of shape ``(N,)``.

    Raises
    ------
    DataError
        No data rows, a row with a different number of fields (the line is named), a cell that
        is not a number (line and column named), a label that is not a non-negative integer, a
        non-finite feature, or ``label_column`` outside the rows.
    """
    if not 0 <= test_fraction < 1:
        raise ValidationError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    table, lines = read_table(path, header)
    x, y = split_labels(table, lines, label_column, str(path))
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(y))
        x, y = x[order], y[order]
    n_train = len(y) - round(len(y) * test_fraction)
    x_train, x_test = x[:n_train], x[n_train:]
    if normalize:
        x_train, x_test = _normalize_pair(x_train, x_test, str(path))
    return (x_train, y[:n_train]), (x_test, y[n_train:])


# --------------------------------------------------------------------------- npz


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Read the four arrays of an ``.npz`` file, never unpickling anything.

    No size the archive declares is trusted: each member's array header is checked against
    what its compressed bytes can hold, and the data is decompressed with that cap.
    """
    with _open_data(path) as file:
        start = file.read(len(np.lib.format.MAGIC_PREFIX))
        if start == np.lib.format.MAGIC_PREFIX:
            raise DataError(f"{path}: a single .npy array, expected an .npz archive")
        if start[:1] == b"\x80":  # how every pickle since protocol 2 begins
            raise DataError(
                f"{path}: not an .npz of plain numeric arrays but a pickle, which is never "
                "loaded (allow_pickle=False)"
            )
        file.seek(0)
        stored = os.fstat(file.fileno()).st_size
        try:
            with zipfile.ZipFile(file) as archive:
                members = {n[: -len(".npy")]: n for n in archive.namelist() if n.endswith(".npy")}
                arrays = {
                    key: _npz_member(archive, members[key], stored, path)
                    for key in KEYS
                    if key in members
                }
        except DeltapropError:
            raise
        except Exception as e:  # zipfile raises many kinds: BadZipFile, EOFError, RuntimeError...
            raise DataError(f"{path}: not a readable .npz file ({e!r:.200})") from None
    missing = [key for key in KEYS if key not in arrays]
    if missing:
        raise DataError(f"{path}: missing arrays {missing}; found {sorted(members)}")
    return arrays


_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _npz_member(archive: zipfile.ZipFile, member: str, stored: int, path: Path) -> np.ndarray:
    """One member of an ``.npz``, read with its header's size as the cap.

    The member's compressed size (at most the archive's ``stored`` bytes) bounds what it can
    expand to; NumPy's own reader would allocate whatever the header declares before reading.
    """
    info = archive.getinfo(member)
    packed = min(info.compress_size, stored)
    room = packed if info.compress_type == zipfile.ZIP_STORED else packed * MAX_DEFLATE_RATIO
    with archive.open(info) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version not in _NPY_HEADER_READERS:
                raise DataError(f"{path}: {member} has .npy format {version}, expected 1.0 or 2.0")
            shape, fortran, dtype = _NPY_HEADER_READERS[version](stream)
        except ValueError as e:  # a bad magic string or header dictionary
            raise DataError(f"{path}: {member} is not a .npy array ({e})") from None
        if dtype.hasobject:
            raise DataError(
                f"{path}: not an .npz of plain numeric arrays: {member} holds Python objects, "
                "which are never unpickled (allow_pickle=False)"
            )
        room = max(room - stream.tell(), 0)
        if min(shape, default=0) < 0 or declared_nbytes(shape, dtype.itemsize, room) > room:
            raise DataError(
                f"{path}: {member} declares shape {shape} of {dtype}, more than the "
                f"{room} bytes it can hold (truncated, forged or corrupt)"
            )
        nbytes = declared_nbytes(shape, dtype.itemsize, room)
        check_allocation(nbytes, f"reading {member} of {path} (shape {shape} of {dtype})")
        data = _fill(stream.read, nbytes)
        if len(data) < nbytes or stream.read(1):
            problem = "truncated" if len(data) < nbytes else "has trailing bytes"
            raise DataError(
                f"{path}: {member} is {problem}: its header declares shape {shape} of {dtype}"
            )
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def load_npz(path: PathLike, normalize: bool = False, flatten: bool = False) -> Split:
    """Load ``x_train``, ``y_train``, ``x_test``, ``y_test`` from an ``.npz`` archive.

    The archive is opened with ``allow_pickle=False``: object arrays are refused.

    Parameters
    ----------
    path : str or os.PathLike
        The archive, as written by ``numpy.savez(path, x_train=..., y_train=..., ...)``.
    normalize : bool, default False
        True: inputs become float32 in ``[0, 1]``: uint8 divided by 255, other types scaled by
        the training set's global minimum and maximum. False: inputs as stored.
    flatten : bool, default False
        True: inputs are reshaped to ``(N, features)``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x`` of shape ``(N, ...)`` as stored (``(N, features)`` with ``flatten``); ``y`` int64
        of shape ``(N,)``.

    Raises
    ------
    DataError
        Not an ``.npz``, a missing key, an object array, non-numeric inputs, labels that are
        not non-negative integers, or mismatched lengths or feature shapes.
    """
    path = Path(path)
    arrays = _npz_arrays(path)
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    for key, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise DataError(f"{path}: {key} has dtype {array.dtype}, expected numbers")
    if x_train.ndim < 2 or x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{path}: x_train {x_train.shape} and x_test {x_test.shape} should both be "
            "(N, features...) with the same features"
        )
    for key, x in (("x_train", x_train), ("x_test", x_test)):
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise DataError(f"{path}: {key} holds NaN or infinite values")
    labels = []
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        y = arrays[y_key]
        if y.shape != (len(arrays[x_key]),):
            raise DataError(
                f"{path}: {y_key} has shape {y.shape}, expected ({len(arrays[x_key])},)"
            )
        bad = _bad_labels(y)
        if bad.size:
            raise DataError(
                f"{path}: {y_key}[{bad[0]}] = {y[bad[0]]} is not a non-negative integer label"
            )
        labels.append(y.astype(np.int64))
    if flatten:
        x_train, x_test = _flat(x_train), _flat(x_test)
    if normalize:
        x_train, x_test = _normalize_pair(x_train, x_test, str(path))
    return (x_train, labels[0]), (x_test, labels[1])
