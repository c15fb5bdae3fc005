# ruff: noqa: E501 - the table of cases reads best with one case per line
"""Every bad input gets one clear error: a ``DeltapropError`` that is also the built-in exception a
Python user would catch, with a one-line message naming the argument, what was expected, what was
found and the fix.

``CASES`` is the table: one row per bad input, the call that makes it, the error class, the
built-in class it must also be, and words the message must contain (case-insensitive).
"""

from __future__ import annotations

import gzip
import io as bytes_io
import math
import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bombs import npz_bomb, png_bomb
from craft import build, join, split, tensors_of

import deltaprop as dp
from deltaprop import datafiles, datasets, errors, images
from deltaprop.cli.predict import read_npy

RNG = np.random.default_rng(0)
X = RNG.random((20, 4)).astype(np.float32)
Y = np.arange(20) % 3  # labels 0..2 for a 3-class network


def classifier(**options) -> dp.Network:
    return dp.Network.from_sizes([4, 5, 3], **options)


def regressor(n_out: int = 2, **options) -> dp.Network:
    return dp.Network.from_sizes([4, 5, n_out], output=None, loss="mse", **options)


def fit(network=None, X=X, y=Y, **options):
    options.setdefault("epochs", 1)
    return (network or classifier()).fit(X, y, **options)


def with_nan(array: np.ndarray) -> np.ndarray:
    array = array.astype(np.float64)
    array[3] = np.nan
    return array


def saved(tmp_path: Path, network: dp.Network | None = None, name: str = "model") -> Path:
    path = tmp_path / f"{name}.safetensors"
    (network or classifier()).save(path)
    return path


def checkpoint(tmp_path: Path, optimizer=None) -> Path:
    path = tmp_path / "checkpoint.safetensors"
    fit(optimizer=optimizer or dp.SGD(), checkpoint=path)
    return path


def rewritten(tmp_path: Path, change) -> Path:
    """A valid model file whose (document, tensors) went through ``change``, rehashed."""
    path = saved(tmp_path)
    document, tensors = tensors_of(path.read_bytes())
    tensors = {name: array.copy() for name, array in tensors.items()}
    change(document, tensors)
    path.write_bytes(build(document, tensors))
    return path


def raw(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "raw.safetensors"
    path.write_bytes(data)
    return path


def edited_header(tmp_path: Path, change) -> Path:
    """A valid model file whose safetensors header went through ``change`` (not rehashed)."""
    header, body = split(saved(tmp_path).read_bytes())
    change(header)
    return raw(tmp_path, join(header, body))


def set_entry(name: str, key: str, value):
    def change(header):
        header[name][key] = value

    return change


def set_architecture(key: str, value, layer: int | None = None):
    def change(document, tensors):
        target = document["architecture"]
        target = target if layer is None else target["layers"][layer]
        target[key] = value

    return change


def other_tool_file(tmp_path: Path) -> Path:
    from safetensors.numpy import save

    return raw(tmp_path, save({"weight": np.ones((2, 2), np.float32)}))


def reused_optimizer():
    optimizer = dp.SGD(momentum=0.9)
    fit(optimizer=optimizer)
    fit(dp.Network.from_sizes([4, 7, 3]), optimizer=optimizer)


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    return path


def text_file(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


CSV = "label,a,b,c\n0,1,2,3\n1,4,5,6\n2,7,8,9\n1,1,1,1\n"


def idx(array: np.ndarray, code: int = 0x08) -> bytes:
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return bytes([0, 0, code, array.ndim]) + dims + array.tobytes()


IMAGES = idx(np.zeros((3, 2, 2), np.uint8))


def idx_file(tmp_path: Path, data: bytes, name: str = "images-idx3-ubyte") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def idx_directory(tmp_path: Path, n_train_labels: int = 3, skip: str = "") -> Path:
    for stem in datafiles.IDX_FILES:
        if stem == skip:
            continue
        labels = np.zeros(n_train_labels if stem.startswith("train-l") else 3, np.uint8)
        idx_file(tmp_path, IMAGES if "images" in stem else idx(labels), stem)
    return tmp_path


def npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def npz_forged(tmp_path: Path) -> Path:
    """An .npz whose x_train header declares 10^10 float64 values but holds 8 bytes."""
    header = bytes_io.BytesIO()
    fields = {"descr": "<f8", "fortran_order": False, "shape": (10**5, 10**5)}
    np.lib.format.write_array_header_1_0(header, fields)
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", header.getvalue() + bytes(8))
        for key in ("y_train", "x_test", "y_test"):
            stream = bytes_io.BytesIO()
            np.save(stream, np.zeros(1))
            archive.writestr(f"{key}.npy", stream.getvalue())
    return path


def image(tmp_path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    path = tmp_path / "digit.png"
    Image.fromarray(pixels).save(path)
    return path


def gzip_idx(tmp_path: Path, dims: tuple, payload: bytes) -> Path:
    """A gzipped IDX file of uint8 whose header declares ``dims`` and whose data is ``payload``."""
    header = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    return idx_file(tmp_path, gzip.compress(header + payload, compresslevel=1), "images.gz")


def diverged(tmp_path: Path) -> Path:
    network = classifier()
    network.layers[0].weights[0, 0] = np.inf
    return tmp_path / "never-written.safetensors", network


def save_diverged(tmp_path: Path) -> None:
    path, network = diverged(tmp_path)
    try:
        network.save(path)
    finally:
        assert not path.exists() and not list(tmp_path.iterdir())


def hand_made(tmp_path: Path) -> Path:
    """A model file whose 0.weight has another shape than its architecture says, the hash
    left as it was (a converted or hand-edited file)."""
    path = saved(tmp_path)
    document, tensors = tensors_of(path.read_bytes())
    tensors = {**tensors, "0.weight": np.zeros((5, 3), np.float32)}
    path.write_bytes(build(document, tensors, rehash=False))
    return path


def hand_made_checkpoint_field(tmp_path: Path) -> Path:
    path = checkpoint(tmp_path)
    document, tensors = tensors_of(path.read_bytes())
    document["architecture"]["layers"][0]["activation"] = "relux"
    path.write_bytes(build(document, tensors, rehash=False))
    return path


SOFT = np.full((20, 3), 1 / 3)


V, T = errors.ValidationError, errors.DeltapropTypeError
M, D, N = errors.ModelFileError, errors.DataError, errors.DataNotFoundError

# (id, call(tmp_path), error class, built-in class, words in the message)
CASES = [
    # ---------------------------------------------------------------- X
    ("X-3d", lambda t: fit(X=X[:, :, None]), V, ValueError, ["X", "(N, 4)", "(20, 4, 1)", "reshape"]),
    ("X-1d-sample", lambda t: classifier().predict(X[0]), V, ValueError, ["X", "1-D", "reshape(1, -1)"]),
    ("X-width", lambda t: fit(X=X[:, :3]), V, ValueError, ["3 features", "takes 4", "(N, 4)"]),
    ("X-y-lengths", lambda t: fit(y=Y[:5]), V, ValueError, ["20 samples", "y has 5", "same length"]),
    ("X-empty", lambda t: fit(X=X[:0], y=Y[:0]), V, ValueError, ["X", "empty", "at least one sample"]),
    ("X-nan", lambda t: fit(X=with_nan(X)), V, ValueError, ["X", "NaN", "impute"]),
    ("X-inf-predict", lambda t: classifier().predict(np.full((2, 4), np.inf)), V, ValueError, ["X", "infinite"]),
    ("X-beyond-float32", lambda t: classifier().predict(np.full((2, 4), 1e300)), V, ValueError, ["X", "float32", "float64", "rescale"]),
    ("X-strings", lambda t: fit(X=np.array([["a"] * 4] * 20)), T, TypeError, ["X", "numeric", "<U1"]),
    ("X-ragged", lambda t: fit(X=[[1, 2, 3, 4], [1, 2]], y=[0, 1]), T, TypeError, ["X", "rectangular", "same number"]),
    ("X-complex", lambda t: classifier().predict(X + 1j), T, TypeError, ["X", "numeric", "complex"]),
    ("X-none-values", lambda t: classifier().predict([[1, None, 2, 3]]), T, TypeError, ["X", "numeric", "object"]),
    # ---------------------------------------------------------------- y
    ("y-nan-regression", lambda t: fit(regressor(), y=with_nan(np.ones((20, 2)))), V, ValueError, ["y", "NaN", "remove"]),
    ("y-nan-labels", lambda t: fit(y=with_nan(Y)), V, ValueError, ["y", "NaN"]),
    ("y-inf", lambda t: fit(regressor(1), y=np.full(20, np.inf)), V, ValueError, ["y", "infinite"]),
    ("y-beyond-float32", lambda t: fit(regressor(1), y=np.full(20, 1e300)), V, ValueError, ["y", "float32", "float64"]),
    ("y-strings", lambda t: fit(y=np.array(["cat"] * 20)), T, TypeError, ["y", "numeric", "<U3"]),
    ("y-labels-1-based", lambda t: fit(y=Y + 1), V, ValueError, ["1..3", "3 classes", "0..2", "subtract 1"]),
    ("y-labels-negative", lambda t: fit(y=Y - 1), V, ValueError, ["-1..1", "0..2"]),
    ("y-labels-too-many", lambda t: fit(y=np.arange(20) % 6), V, ValueError, ["0..5", "3 classes", "0..2"]),
    ("y-labels-huge-unsigned", lambda t: fit(y=np.full(20, 2**64 - 1, np.uint64)), V, ValueError, ["labels", "3 classes"]),
    ("y-labels-non-integer", lambda t: fit(y=Y + 0.5), V, ValueError, ["non-integer", "integers", "mse"]),
    ("y-one-hot-width", lambda t: fit(y=np.eye(4)[Y]), V, ValueError, ["4 columns", "3 units", "(N, 3)"]),
    ("y-label-column", lambda t: fit(y=Y[:, None]), V, ValueError, ["1 columns", "ravel"]),
    ("y-3d", lambda t: fit(y=Y[:, None, None]), V, ValueError, ["y", "(N,)", "(20, 1, 1)"]),
    ("y-scalar", lambda t: fit(y=3), V, ValueError, ["y", "shape ()"]),
    ("y-regression-width", lambda t: fit(regressor(), y=np.ones((20, 3))), V, ValueError, ["3 columns", "2 units"]),
    ("y-bce-range", lambda t: fit(dp.Network.from_sizes([4, 1], output="sigmoid", loss="bce"), y=np.full((20, 1), 2.0)), V, ValueError, ["[0, 1]", "2.0"]),
    ("y-bce-labels", lambda t: fit(dp.Network.from_sizes([4, 1], output="sigmoid", loss="bce"), y=Y), V, ValueError, ["0..2", "one sigmoid output", "0..1"]),
    ("y-evaluate", lambda t: classifier().evaluate(X, Y + 1), V, ValueError, ["1..3", "subtract 1"]),
    ("y-gradients", lambda t: classifier().gradients(X, Y[:3]), V, ValueError, ["20 samples", "y has 3"]),
    # ---------------------------------------------------------------- validation data
    ("validation-data-width", lambda t: fit(validation_data=(X[:, :2], Y)), V, ValueError, ["2 features", "(N, 4)"]),
    ("validation-data-not-pair", lambda t: fit(validation_data=X), V, ValueError, ["validation_data", "pair"]),
    ("validation-split-one", lambda t: fit(validation_split=1.0), V, ValueError, ["validation_split", "[0, 1)", "1.0"]),
    ("validation-split-tiny", lambda t: fit(validation_split=0.01), V, ValueError, ["validation_split", "0 of 20", "at least one"]),
    ("validation-both", lambda t: fit(validation_data=(X, Y), validation_split=0.2), V, ValueError, ["validation_data", "validation_split", "not both"]),
    # ---------------------------------------------------------------- training arguments
    ("batch-size-zero", lambda t: fit(batch_size=0), V, ValueError, ["batch_size", "positive integer", "got 0"]),
    ("batch-size-negative", lambda t: fit(batch_size=-8), V, ValueError, ["batch_size", "positive integer", "-8"]),
    ("batch-size-float", lambda t: fit(batch_size=2.5), V, ValueError, ["batch_size", "positive integer", "2.5"]),
    ("batch-size-string", lambda t: fit(batch_size="32"), V, ValueError, ["batch_size", "positive integer", "'32'"]),
    ("epochs-zero", lambda t: fit(epochs=0), V, ValueError, ["epochs", "positive integer", "got 0"]),
    ("epochs-negative", lambda t: fit(epochs=-3), V, ValueError, ["epochs", "-3"]),
    ("epochs-float", lambda t: fit(epochs=1.5), V, ValueError, ["epochs", "positive integer", "1.5"]),
    ("epochs-nan", lambda t: fit(epochs=math.nan), V, ValueError, ["epochs", "nan"]),
    ("verbose", lambda t: fit(verbose=3), V, ValueError, ["verbose", "0, 1 or 2", "3"]),
    ("checkpoint-every", lambda t: fit(checkpoint_every=0), V, ValueError, ["checkpoint_every", "positive integer"]),
    ("callback-type", lambda t: fit(callbacks=[3]), T, TypeError, ["callbacks[0]", "Callback", "int"]),
    ("early-stopping-patience", lambda t: dp.EarlyStopping(patience=0), V, ValueError, ["patience", "positive integer"]),
    ("evaluate-batch-size", lambda t: classifier().evaluate(X, Y, batch_size=0), V, ValueError, ["batch_size", "positive integer"]),
    ("optimizer-reused", lambda t: reused_optimizer(), V, ValueError, ["optimizer", "other shapes", "new"]),
    # ---------------------------------------------------------------- names
    ("activation-hidden-unknown", lambda t: classifier(hidden="rleu"), V, ValueError, ["'rleu'", "did you mean 'relu'", "choose one of"]),
    ("activation-output-unknown", lambda t: classifier(output="softmx"), V, ValueError, ["'softmx'", "did you mean 'softmax'"]),
    ("activation-type", lambda t: dp.Dense(4, 3, activation=3), T, TypeError, ["activation", "name", "int"]),
    ("loss-unknown", lambda t: classifier(loss="crossentropy"), V, ValueError, ["'crossentropy'", "did you mean 'cross_entropy'"]),
    ("loss-type", lambda t: classifier(loss=3), T, TypeError, ["loss", "name", "int"]),
    ("loss-argument", lambda t: dp.get_loss("mse", delta=1.0), T, TypeError, ["loss 'mse'", "delta", "accepts no arguments"]),
    ("optimizer-unknown", lambda t: fit(optimizer="adamm"), V, ValueError, ["'adamm'", "did you mean 'adam'", "choose one of"]),
    ("optimizer-type", lambda t: fit(optimizer=3), T, TypeError, ["optimizer", "name", "int"]),
    ("optimizer-argument", lambda t: dp.get_optimizer("adam", momentum=0.9), T, TypeError, ["optimizer 'adam'", "momentum", "accepts", "beta1"]),
    ("schedule-unknown", lambda t: dp.SGD(schedule="cosin"), V, ValueError, ["'cosin'", "did you mean 'cosine'"]),
    ("init-unknown", lambda t: dp.Dense(4, 3, init="he_normall"), V, ValueError, ["'he_normall'", "did you mean 'he_normal'"]),
    # ---------------------------------------------------------------- output activation and loss
    ("cross-entropy-sigmoid", lambda t: classifier(output="sigmoid"), V, ValueError, ["cross_entropy", "softmax", "'sigmoid'", "binary_cross_entropy"]),
    ("cross-entropy-identity", lambda t: classifier(output=None), V, ValueError, ["cross_entropy", "softmax", "'identity'"]),
    ("bce-softmax", lambda t: classifier(loss="binary_cross_entropy"), V, ValueError, ["binary_cross_entropy", "sigmoid", "'softmax'"]),
    ("predict-proba-regressor", lambda t: regressor().predict_proba(X), V, ValueError, ["predict_proba", "classifier", "predict"]),
    # ---------------------------------------------------------------- learning rate and optimizer
    ("lr-zero", lambda t: dp.SGD(lr=0), V, ValueError, ["lr", "> 0", "got 0"]),
    ("lr-negative", lambda t: dp.Adam(lr=-0.1), V, ValueError, ["lr", "> 0", "-0.1"]),
    ("lr-nan", lambda t: dp.SGD(lr=math.nan), V, ValueError, ["lr", "finite", "nan"]),
    ("lr-inf", lambda t: dp.RMSprop(lr=math.inf), V, ValueError, ["lr", "finite", "inf"]),
    ("lr-string", lambda t: dp.SGD(lr="0.1"), V, ValueError, ["lr", "finite number > 0", "'0.1'"]),
    ("lr-by-name", lambda t: dp.get_optimizer("adam", lr=0.0), V, ValueError, ["lr", "> 0"]),
    ("momentum-one", lambda t: dp.SGD(momentum=1.0), V, ValueError, ["momentum", "[0, 1)"]),
    ("nesterov-without-momentum", lambda t: dp.SGD(nesterov=True), V, ValueError, ["nesterov", "momentum > 0"]),
    ("clip-norm-zero", lambda t: dp.Adam(clip_norm=0), V, ValueError, ["clip_norm", "> 0"]),
    ("weight-decay-negative", lambda t: dp.SGD(weight_decay=-1), V, ValueError, ["weight_decay", ">= 0"]),
    ("beta-nan", lambda t: dp.Adam(beta1=math.nan), V, ValueError, ["beta1", "[0, 1)"]),
    ("beta-one", lambda t: dp.Adam(beta1=1.0), V, ValueError, ["beta1", "[0, 1)", "1.0"]),
    # ---------------------------------------------------------------- dtype
    ("dtype-float16", lambda t: classifier(dtype="float16"), T, TypeError, ["dtype", "'float32' or 'float64'", "float16"]),
    ("dtype-int", lambda t: classifier(dtype=int), T, TypeError, ["dtype", "'float32' or 'float64'", "int"]),
    ("dtype-unknown-name", lambda t: classifier(dtype="floaty"), T, TypeError, ["dtype", "'floaty'"]),
    ("dtype-object", lambda t: classifier(dtype=object()), T, TypeError, ["dtype", "'float32' or 'float64'"]),
    ("dtype-copy", lambda t: classifier().copy(dtype="int8"), T, TypeError, ["dtype", "int8"]),
    # ---------------------------------------------------------------- architecture
    ("sizes-one", lambda t: dp.Network.from_sizes([4]), V, ValueError, ["sizes", "input and an output", "[784, 10]"]),
    ("sizes-negative", lambda t: dp.Network.from_sizes([4, -3]), V, ValueError, ["n_out", "positive integer", "-3"]),
    ("sizes-float", lambda t: dp.Network.from_sizes([4.5, 3]), V, ValueError, ["n_in", "positive integer", "4.5"]),
    ("dense-n-in-zero", lambda t: dp.Dense(0, 3), V, ValueError, ["n_in", "positive integer", "got 0"]),
    ("layers-chain", lambda t: dp.Network([dp.Dense(4, 5), dp.Dense(6, 3, "softmax")]), V, ValueError, ["layers[1]", "n_in=6", "n_out=5"]),
    ("layers-empty", lambda t: dp.Network([]), V, ValueError, ["layers", "at least one"]),
    ("layers-type", lambda t: dp.Network([dp.Dense(4, 3, "softmax"), "dense"]), T, TypeError, ["layers[1]", "Dense", "str"]),
    ("layers-repeated", lambda t: dp.Network([d := dp.Dense(3, 3, "softmax"), d]), V, ValueError, ["same Dense", "twice"]),
    ("dropout-output", lambda t: dp.Network([dp.Dense(4, 3, "softmax", dropout=0.5)]), V, ValueError, ["output layer", "dropout", "hidden"]),
    ("dropout-one", lambda t: dp.Dense(4, 3, dropout=1.0), V, ValueError, ["dropout", "[0, 1)"]),
    ("seed-negative", lambda t: classifier(seed=-1), V, ValueError, ["seed", "non-negative integer", "-1"]),
    ("weights-shape", lambda t: setattr(classifier().layers[0], "weights", np.ones((4, 5))), V, ValueError, ["weights", "(5, 4)", "(4, 5)"]),
    ("weights-nan", lambda t: setattr(classifier().layers[0], "bias", np.full(5, np.nan)), V, ValueError, ["bias", "NaN"]),
    # ---------------------------------------------------------------- checkpoints and resuming
    ("checkpoint-directory-missing", lambda t: fit(checkpoint=t / "no" / "c.safetensors"), M, ValueError, ["cannot write", "does not exist"]),
    ("resume-missing", lambda t: fit(resume=t / "none.safetensors"), M, ValueError, ["none.safetensors", "does not exist"]),
    ("resume-model-file", lambda t: fit(resume=saved(t)), M, ValueError, ["model file, not a checkpoint", "fit(..., checkpoint=...)"]),
    ("resume-other-network", lambda t: fit(dp.Network.from_sizes([4, 6, 3]), resume=checkpoint(t)), M, ValueError, ["another network", "[4, 5, 3]", "[4, 6, 3]", "same architecture"]),
    ("resume-other-optimizer", lambda t: fit(optimizer=dp.Adam(), resume=checkpoint(t)), M, ValueError, ["'sgd'", "'adam'", "same optimizer"]),
    # ---------------------------------------------------------------- model files
    ("file-missing", lambda t: dp.load(t / "none.safetensors"), M, ValueError, ["none.safetensors", "does not exist"]),
    ("file-directory", lambda t: dp.load(t), M, ValueError, ["directory", "not a model file"]),
    ("file-fifo", lambda t: dp.load(fifo(t)), M, ValueError, ["not a regular file"]),
    ("file-text", lambda t: dp.load(raw(t, b"epoch,loss\n1,0.5\n")), M, ValueError, ["not a valid", "header claims"]),
    ("file-short", lambda t: dp.load(raw(t, b"abc")), M, ValueError, ["not a safetensors file", "only 3 bytes"]),
    ("file-other-tool", lambda t: dp.load(other_tool_file(t)), M, ValueError, ["not a deltaprop model", "'deltaprop' metadata"]),
    ("header-larger-than-file", lambda t: dp.load(raw(t, join({}, b"", header_size=10**6))), M, ValueError, ["header claims 1000000 bytes", "the file has"]),
    ("header-huge", lambda t: dp.load(raw(t, struct.pack("<Q", 2**63) + b"{}" * 10)), M, ValueError, ["header claims", "limited to"]),
    ("header-not-json", lambda t: dp.load(raw(t, join(b"{not json", b""))), M, ValueError, ["header is not JSON"]),
    ("header-not-object", lambda t: dp.load(raw(t, join([1, 2], b""))), M, ValueError, ["header is not an object"]),
    ("header-deeply-nested", lambda t: dp.load(raw(t, join(b"[" * 200_000, b""))), M, ValueError, ["not JSON"]),
    ("metadata-not-json", lambda t: dp.load(raw(t, join({"__metadata__": {"deltaprop": "{"}}, b""))), M, ValueError, ["unreadable deltaprop metadata", "not JSON"]),
    ("metadata-newer-format", lambda t: dp.load(rewritten(t, lambda d, _: d.update(format_version=99))), M, ValueError, ["file format 99", "upgrade deltaprop"]),
    ("truncated", lambda t: dp.load(raw(t, saved(t).read_bytes()[:-5])), M, ValueError, ["do not fit", "truncated"]),
    ("bit-flip", lambda t: dp.load(raw(t, (lambda d: d[:-3] + bytes([d[-3] ^ 1]) + d[-2:])(saved(t).read_bytes()))), M, ValueError, ["corrupt or was modified", "SHA-256"]),
    ("tensor-dtype-i64", lambda t: dp.load(edited_header(t, set_entry("0.bias", "dtype", "I64"))), M, ValueError, ["'0.bias'", "'I64'", "F32 or F64"]),
    ("tensor-dtype-f16", lambda t: dp.load(edited_header(t, set_entry("0.bias", "dtype", "F16"))), M, ValueError, ["'F16'", "F32 or F64"]),
    ("tensor-shape-negative", lambda t: dp.load(edited_header(t, set_entry("0.bias", "shape", [-5]))), M, ValueError, ["'0.bias'", "malformed", "[-5]"]),
    ("tensor-shape-float", lambda t: dp.load(edited_header(t, set_entry("0.bias", "shape", [5.0]))), M, ValueError, ["'0.bias'", "malformed"]),
    ("tensor-shape-huge", lambda t: dp.load(edited_header(t, set_entry("0.weight", "shape", [10**9, 10**9]))), M, ValueError, ["'0.weight'", "(1000000000, 1000000000)", "do not fit"]),
    ("tensor-offsets-past-end", lambda t: dp.load(edited_header(t, set_entry("0.bias", "data_offsets", [10**12, 10**12 + 20]))), M, ValueError, ["'0.bias'", "outside the file"]),
    ("tensor-offsets-reversed", lambda t: dp.load(edited_header(t, set_entry("0.bias", "data_offsets", [20, 0]))), M, ValueError, ["'0.bias'", "do not fit"]),
    ("tensor-missing", lambda t: dp.load(rewritten(t, lambda d, ts: ts.pop("0.bias"))), M, ValueError, ["missing tensors ['0.bias']"]),
    ("tensor-unknown", lambda t: dp.load(rewritten(t, lambda d, ts: ts.update(extra=np.ones(2, np.float32)))), M, ValueError, ["unknown tensors ['extra']"]),
    ("tensor-shape-mismatch", lambda t: dp.load(rewritten(t, lambda d, ts: ts.update({"0.bias": np.ones(7, np.float32)}))), M, ValueError, ["'0.bias'", "(7,)", "(5,)"]),
    ("tensor-dtype-mismatch", lambda t: dp.load(rewritten(t, lambda d, ts: ts.update({"0.bias": np.ones(5)}))), M, ValueError, ["'0.bias'", "float64", "float32"]),
    ("tensor-nan", lambda t: dp.load(rewritten(t, lambda d, ts: ts["0.bias"].__setitem__(0, np.nan))), M, ValueError, ["'0.bias'", "NaN"]),
    ("architecture-unknown-activation", lambda t: dp.load(rewritten(t, set_architecture("activation", "swish", 0))), M, ValueError, ["invalid architecture", "'swish'"]),
    ("architecture-bad-loss", lambda t: dp.load(rewritten(t, set_architecture("loss", "mse2"))), M, ValueError, ["invalid architecture", "'mse2'"]),
    ("architecture-dtype", lambda t: dp.load(rewritten(t, set_architecture("dtype", "float16"))), M, ValueError, ["invalid architecture", "float16"]),
    ("architecture-missing", lambda t: dp.load(rewritten(t, lambda d, _: d.pop("architecture"))), M, ValueError, ["malformed architecture", "architecture"]),
    ("architecture-huge-layer", lambda t: dp.load(rewritten(t, set_architecture("n_in", 10**12, 0))), M, ValueError, ["'0.weight'", "1000000000000"]),
    ("history-malformed", lambda t: dp.load(rewritten(t, lambda d, _: d.update(history=5))), M, ValueError, ["malformed training history"]),
    # ---------------------------------------------------------------- data files
    ("csv-header-refused", lambda t: datafiles.load_csv(text_file(t, CSV), header=False), D, ValueError, ["data.csv line 1, column 1", "'label' is not a number"]),
    ("csv-ragged", lambda t: datafiles.load_csv(text_file(t, "0,1,2\n1,2\n")), D, ValueError, ["line 2", "2 fields", "expected 3"]),
    ("csv-label-column-missing", lambda t: datafiles.load_csv(text_file(t, CSV), label_column=9), D, ValueError, ["label_column=9", "4 columns"]),
    ("csv-no-label-column", lambda t: datafiles.load_csv(text_file(t, "0.25,1\n0.5,2\n")), D, ValueError, ["line 1, column 1", "label 0.25", "non-negative integer"]),
    ("csv-one-column", lambda t: datafiles.load_csv(text_file(t, "1\n2\n")), D, ValueError, ["a label and at least one feature"]),
    ("csv-not-a-number", lambda t: datafiles.load_csv(text_file(t, "0,1\n1,abc\n")), D, ValueError, ["line 2, column 2", "'abc' is not a number"]),
    ("csv-nan", lambda t: datafiles.load_csv(text_file(t, "0,1\n1,nan\n")), D, ValueError, ["line 2, column 2", "not finite"]),
    ("csv-empty", lambda t: datafiles.load_csv(text_file(t, "\n\n")), D, ValueError, ["no data rows"]),
    ("csv-missing", lambda t: datafiles.load_csv(t / "none.csv"), N, FileNotFoundError, ["none.csv", "no such file"]),
    ("csv-test-fraction", lambda t: datafiles.load_csv(text_file(t, CSV), test_fraction=1.0), V, ValueError, ["test_fraction", "[0, 1)"]),
    ("idx-wrong-magic", lambda t: datafiles.read_idx(idx_file(t, b"\x1f\x8b" + IMAGES[2:])), D, ValueError, ["not an IDX file", "magic number 0x1F8B"]),
    ("idx-truncated", lambda t: datafiles.read_idx(idx_file(t, IMAGES[:-1])), D, ValueError, ["truncated", "(3, 2, 2)", "27 bytes"]),
    ("idx-trailing-bytes", lambda t: datafiles.read_idx(idx_file(t, IMAGES + b"\0")), D, ValueError, ["trailing bytes", "29 bytes"]),
    ("idx-huge-dimensions", lambda t: datafiles.read_idx(idx_file(t, IMAGES[:4] + b"\xff" * 12)), D, ValueError, ["truncated", "(4294967295, 4294967295, 4294967295)"]),
    ("idx-unknown-type", lambda t: datafiles.read_idx(idx_file(t, IMAGES[:2] + b"\x07" + IMAGES[3:])), D, ValueError, ["unknown IDX data type code 0x07"]),
    ("idx-broken-gzip", lambda t: datafiles.read_idx(idx_file(t, gzip.compress(IMAGES)[:-9], "x.gz")), D, ValueError, ["x.gz", "not a valid gzip file"]),
    ("idx-fifo", lambda t: datafiles.read_idx(fifo(t)), D, ValueError, ["not a regular file"]),
    ("idx-directory-incomplete", lambda t: datafiles.load_idx(idx_directory(t, skip="t10k-labels-idx1-ubyte")), N, FileNotFoundError, ["t10k-labels-idx1-ubyte", "neither"]),
    ("idx-directory-counts", lambda t: datafiles.load_idx(idx_directory(t, n_train_labels=2)), D, ValueError, ["3 images", "2 labels"]),
    ("npz-object-array", lambda t: datafiles.load_npz(npz(t, x_train=np.array([{}], dtype=object))), D, ValueError, ["not an .npz of plain numeric arrays"]),
    ("npz-forged-size", lambda t: datafiles.load_npz(npz_forged(t)), D, ValueError, ["x_train.npy", "(100000, 100000)", "more than"]),
    ("npz-missing-arrays", lambda t: datafiles.load_npz(npz(t, x=np.ones(2))), D, ValueError, ["missing arrays", "x_train", "['x']"]),
    ("dataset-unknown-name", lambda t: datasets.load("mnsit"), N, FileNotFoundError, ["'mnsit'", "did you mean 'mnist'", "fashion_mnist"]),
    ("image-not-an-image", lambda t: images.image_to_input(text_file(t, "hello", "digit.png"), 4), D, ValueError, ["digit.png", "not an image Pillow can read"]),
    ("image-flat", lambda t: images.image_to_input(image(t, np.full((9, 9), 200, np.uint8)), 4), D, ValueError, ["single flat color", "no digit"]),
    ("image-for-non-square-input", lambda t: images.image_to_input(image(t, np.eye(9, dtype=np.uint8)), 5), D, ValueError, ["5 inputs", "not a square image", ".npy or .csv"]),
    ("image-missing", lambda t: images.image_to_input(t / "none.png", 4), N, FileNotFoundError, ["none.png", "does not exist"]),
    # ---------------------------------------------------------------- round 2 (issues 14 and 15)
    ("save-non-finite-weights", save_diverged, V, ValueError, ["never-written.safetensors", "'0.weight'", "NaN or infinite", "could not be loaded"]),
    ("file-tensor-shape-unhashed", lambda t: dp.load(hand_made(t)), M, ValueError, ["'0.weight'", "(5, 3)", "(5, 4)", "SHA-256"]),
    ("checkpoint-field-unhashed", lambda t: fit(optimizer=dp.SGD(), resume=hand_made_checkpoint_field(t)), M, ValueError, ["relux", "SHA-256"]),
    ("idx-gzip-declares-more-than-it-can-hold", lambda t: datafiles.read_idx(gzip_idx(t, (10**6, 1000, 1000), bytes(100))), D, ValueError, ["images.gz", "(1000000, 1000, 1000)", "gzipped bytes can hold"]),
    ("idx-gzip-trailing-bomb", lambda t: datafiles.read_idx(gzip_idx(t, (2, 2), bytes(50_000_000))), D, ValueError, ["images.gz", "trailing bytes", "(2, 2)"]),
    ("idx-gzip-truncated", lambda t: datafiles.read_idx(gzip_idx(t, (3, 2, 2), bytes(5))), D, ValueError, ["images.gz", "truncated", "(3, 2, 2)", "21 bytes"]),
    ("npz-deflated-bomb", lambda t: datafiles.load_npz(npz_bomb(t / "bomb.npz")), D, ValueError, ["x_train.npy", "(268435456,)", "more than"]),
    ("csv-fifo", lambda t: datafiles.load_csv(fifo(t)), D, ValueError, ["pipe.safetensors", "not a regular file"]),
    ("image-decompression-bomb", lambda t: images.image_to_input(png_bomb(t / "bomb.png", 20000, 20000), 784), D, ValueError, ["bomb.png", "decompression bomb"]),
    ("image-too-many-pixels", lambda t: images.image_to_input(png_bomb(t / "bomb.png", 5000, 5000), 784), D, ValueError, ["bomb.png", "5000x5000", "scale the picture down"]),
    ("image-fifo", lambda t: images.image_to_input(fifo(t), 784), D, ValueError, ["not a regular file"]),
    ("y-soft-negative", lambda t: fit(y=SOFT * [[3, -1, -1]]), V, ValueError, ["cross_entropy", "y[0, 1] = -0.333333", "negative"]),
    ("y-soft-rows-not-summing-to-1", lambda t: fit(y=SOFT * 2), V, ValueError, ["cross_entropy", "row 0", "sums to 2", "20 rows", "binary_cross_entropy"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "builtin", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_raises_a_clear_error(tmp_path, call, error, builtin, words):
    with pytest.raises(error) as raised:
        call(tmp_path)
    assert isinstance(raised.value, dp.DeltapropError)
    assert isinstance(raised.value, builtin)
    message = str(raised.value)
    assert "\n" not in message
    missing = [word for word in words if word.lower() not in message.lower()]
    assert not missing, f"{missing} not in {message!r}"


def test_every_case_has_its_own_id():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


def test_error_classes_derive_from_the_builtin_a_user_catches():
    assert issubclass(errors.ValidationError, ValueError)
    assert issubclass(errors.DeltapropTypeError, TypeError)
    assert issubclass(errors.DataError, ValueError)
    assert issubclass(errors.DataNotFoundError, FileNotFoundError)
    assert issubclass(errors.ModelFileError, ValueError)
    assert issubclass(errors.DivergenceError, FloatingPointError)
    for name in errors.__all__ if hasattr(errors, "__all__") else dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.DeltapropError)


def test_a_batch_larger_than_the_data_is_clipped_to_one_full_batch():
    optimizer = dp.SGD()
    history = fit(epochs=3, batch_size=1000, optimizer=optimizer)
    assert optimizer.iterations == 3  # one step per epoch, each over all 20 samples
    assert len(history.loss) == 3


def test_soft_targets_for_one_sigmoid_output_are_accepted():
    network = dp.Network.from_sizes([4, 1], output="sigmoid", loss="bce")
    soft = np.linspace(0, 1, 20)[:, None]
    history = fit(network, y=soft)
    assert np.isfinite(history.loss).all()
    # the loss really is binary cross-entropy against the soft targets, not against labels
    X = np.random.default_rng(0).normal(size=(20, 4))
    p = network.forward(X).astype(np.float64)
    expected = -np.mean(soft * np.log(p) + (1 - soft) * np.log(1 - p))
    assert network.evaluate(X, soft)["loss"] == pytest.approx(expected, rel=1e-4)


def test_a_failed_resume_leaves_network_and_optimizer_untouched(tmp_path):
    path = checkpoint(tmp_path, optimizer=dp.SGD(momentum=0.9))
    document, tensors = tensors_of(path.read_bytes())
    tensors = dict(tensors, **{"optimizer.velocity.1": np.ones(9, np.float32)})
    path.write_bytes(build(document, tensors))
    network, optimizer = classifier(), dp.SGD(momentum=0.9)
    before = [p.copy() for p in network.parameters()]
    rng_state = network.rng.bit_generator.state
    with pytest.raises(errors.ModelFileError, match=r"optimizer\.velocity\.1.*\(9,\)"):
        fit(network, optimizer=optimizer, epochs=3, resume=path)
    assert all(np.array_equal(a, b) for a, b in zip(before, network.parameters()))
    assert network.rng.bit_generator.state == rng_state
    assert optimizer.iterations == 0 and not optimizer.state


@pytest.mark.parametrize(
    "change",
    [
        set_entry("0.weight", "shape", [2**31, 2**31]),
        set_entry("0.weight", "data_offsets", [0, 2**62]),
        set_entry("0.weight", "shape", [2**20] * 8),
    ],
    ids=["shape", "offsets", "many-dimensions"],
)
def test_a_declared_size_larger_than_the_file_is_refused_without_allocating(tmp_path, change):
    path = edited_header(tmp_path, change)
    tracemalloc.start()
    try:
        with pytest.raises(errors.ModelFileError):
            dp.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_an_architecture_larger_than_its_tensors_is_refused_without_allocating(tmp_path):
    def huge(document, tensors):
        document["architecture"]["layers"][0].update(n_in=10**6, n_out=10**6)

    path = rewritten(tmp_path, huge)
    tracemalloc.start()
    try:
        with pytest.raises(errors.ModelFileError, match="architecture declares"):
            dp.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def forged_npy(tmp_path: Path) -> Path:
    header = bytes_io.BytesIO()
    fields = {"descr": "<f8", "fortran_order": False, "shape": (10**5, 10**5)}
    np.lib.format.write_array_header_1_0(header, fields)
    path = tmp_path / "forged.npy"
    path.write_bytes(header.getvalue() + bytes(64))
    return path


@pytest.mark.parametrize(
    "read",
    [
        lambda t: datafiles.load_npz(npz_forged(t)),
        lambda t: read_npy(forged_npy(t)),
    ],
    ids=["npz", "predict-npy"],
)
def test_a_forged_array_header_is_refused_without_allocating(tmp_path, read):
    tracemalloc.start()
    try:
        with pytest.raises(errors.DataError, match="forged"):
            read(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@pytest.mark.parametrize(
    ("make", "read"),
    [
        (lambda t: gzip_idx(t, (2, 2), bytes(50_000_000)), datafiles.read_idx),
        (lambda t: gzip_idx(t, (10**6, 1000, 1000), bytes(100)), datafiles.read_idx),
        (lambda t: npz_bomb(t / "bomb.npz"), datafiles.load_npz),
        (lambda t: png_bomb(t / "bomb.png", 20000, 20000), images.image_to_input),
    ],
    ids=["gzip-idx-trailing", "gzip-idx-header", "npz-deflated", "png"],
)
def test_a_small_file_that_expands_is_refused_without_allocating(tmp_path, make, read):
    path = make(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(errors.DataError):
            read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000


def test_a_file_larger_than_the_free_memory_is_refused_for_that_reason(tmp_path, monkeypatch):
    from deltaprop import memory

    path = gzip_idx(tmp_path, (4, 1000, 1000), bytes(4_000_000))  # honest: 4 MB of pixels
    monkeypatch.setattr(memory, "available_bytes", lambda: 1_000_000)
    with pytest.raises(MemoryError, match=r"needs 4\.0 MB of memory but only 1\.0 MB") as raised:
        datafiles.read_idx(path)
    assert isinstance(raised.value, dp.DeltapropError) and "images.gz" in str(raised.value)


def test_a_class_count_far_beyond_the_labels_seen_is_refused():
    from deltaprop.validation import check_class_count

    assert check_class_count(np.array([0, 4999, *range(1, 4999)]), "y") == 5000
    with pytest.raises(errors.ValidationError, match=r"100,000,001 classes .* only 2 distinct"):
        check_class_count(np.array([0, 100_000_000]), "y")


def test_cross_entropy_accepts_probability_rows():
    history = fit(y=np.eye(3)[Y] * 0.9 + 0.1 / 3)
    assert np.isfinite(history.loss).all()
