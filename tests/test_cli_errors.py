# ruff: noqa: E501 - the table of cases reads best with one case per line
"""Every bad input through the command line: a non-zero status, one line, the user's file kept.

Each case runs ``python -m deltaprop ...`` in its own process, as a user would (the runs go
four at a time). A case passes when the exit status is the expected one (2 for bad usage, 1
for anything else), stderr is exactly one line containing the expected words and no traceback,
and the output file the command was given (``--out`` for train, ``--output`` for predict),
which already held the user's data, is byte-for-byte what it was, with nothing left beside it.
"""

from __future__ import annotations

import gzip
import os
import signal
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from bombs import npz_bomb, png_bomb
from craft import build, tensors_of

import deltaprop as dp
from deltaprop.datafiles import IDX_FILES

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
PREVIOUS = b"the user's previous file"

TRAIN = ["train", "--quiet", "--epochs", "1", "--layers", "4"]
GOOD = ["--data", "{d}/good.csv"]

# (id, arguments, exit status, words in the one line of stderr); {d} is the files' directory
CASES = [
    # ---------------------------------------------------------------- data for train
    ("csv-header-inside", [*TRAIN, "--data", "{d}/header_inside.csv"], 1, ["header_inside.csv line 5, column 1", "'label' is not a number"]),
    ("csv-ragged-rows", [*TRAIN, "--data", "{d}/ragged.csv"], 1, ["ragged.csv line 4", "3 fields, expected 6"]),
    ("csv-missing-label-column", [*TRAIN, "--data", "{d}/no_label.csv"], 1, ["line 1, column 1", "label 0.25", "not a non-negative integer"]),
    ("csv-one-column", [*TRAIN, "--data", "{d}/one_column.csv"], 1, ["a label and at least one feature"]),
    ("csv-nan", [*TRAIN, "--data", "{d}/nan.csv"], 1, ["nan.csv line 3, column 3", "not finite"]),
    ("csv-not-a-number", [*TRAIN, "--data", "{d}/words.csv"], 1, ["line 3, column 2", "'x' is not a number"]),
    ("csv-empty", [*TRAIN, "--data", "{d}/empty.csv"], 1, ["empty.csv", "no data rows"]),
    ("idx-wrong-magic", [*TRAIN, "--data", "{d}/idx_magic"], 1, ["train-images-idx3-ubyte", "not an IDX file", "magic number"]),
    ("idx-truncated", [*TRAIN, "--data", "{d}/idx_truncated"], 1, ["train-images-idx3-ubyte", "truncated", "29 bytes"]),
    ("idx-too-long", [*TRAIN, "--data", "{d}/idx_too_long"], 1, ["trailing bytes"]),
    ("idx-broken-gzip", [*TRAIN, "--data", "{d}/idx_gzip"], 1, ["not a valid gzip file"]),
    ("idx-missing-file", [*TRAIN, "--data", "{d}/idx_missing"], 1, ["neither t10k-images-idx3-ubyte nor"]),
    ("idx-counts", [*TRAIN, "--data", "{d}/idx_counts"], 1, ["3 images", "4 labels"]),
    ("npz-pickled", [*TRAIN, "--data", "{d}/pickled.npz"], 1, ["pickled.npz", "allow_pickle=False"]),
    ("data-unknown-name", [*TRAIN, "--data", "mnsit"], 1, ["'mnsit'", "did you mean 'mnist'"]),
    ("data-missing", TRAIN, 2, ["--data is required"]),
    # ---------------------------------------------------------------- options of train
    ("lr-zero", [*TRAIN, *GOOD, "--lr", "0"], 2, ["--lr", "expected a number > 0", "'0'"]),
    ("lr-nan", [*TRAIN, *GOOD, "--lr", "nan"], 2, ["--lr", "expected a number > 0", "'nan'"]),
    ("lr-negative", [*TRAIN, *GOOD, "--lr=-1"], 2, ["--lr", "'-1'"]),
    ("epochs-zero", [*TRAIN, *GOOD, "--epochs", "0"], 2, ["--epochs", "positive integer", "'0'"]),
    ("batch-size-zero", [*TRAIN, *GOOD, "--batch-size", "0"], 2, ["--batch-size", "positive integer"]),
    ("activation-unknown", [*TRAIN, *GOOD, "--activation", "rleu"], 2, ["'rleu'", "did you mean 'relu'"]),
    ("loss-unknown", [*TRAIN, *GOOD, "--loss", "crossentropy"], 2, ["did you mean 'cross_entropy'"]),
    ("optimizer-unknown", [*TRAIN, *GOOD, "--optimizer", "adamm"], 2, ["did you mean 'adam'"]),
    ("output-activation-vs-loss", [*TRAIN, *GOOD, "--output-activation", "sigmoid"], 2, ["cross_entropy", "softmax", "'sigmoid'"]),
    ("binary-loss-on-3-classes", [*TRAIN, *GOOD, "--loss", "binary_cross_entropy"], 2, ["labels 0 and 1", "3 classes"]),
    ("dtype-unknown", [*TRAIN, *GOOD, "--dtype", "float16"], 2, ["--dtype", "'float16'", "float32, float64"]),
    ("flag-misspelled", [*TRAIN, *GOOD, "--epohcs", "3"], 2, ["--epohcs", "did you mean '--epochs'"]),
    ("config-not-toml", [*TRAIN, *GOOD, "--config", "{d}/bad.toml"], 2, ["bad.toml is not valid TOML"]),
    ("config-unknown-key", [*TRAIN, *GOOD, "--config", "{d}/unknown_key.toml"], 2, ["unknown key 'epoch'", "did you mean 'epochs'"]),
    ("out-directory-missing", [*TRAIN, *GOOD, "--out", "{d}/nowhere/m.safetensors"], 1, ["--out", "directory", "does not exist"]),
    ("checkpoint-is-out", [*TRAIN, *GOOD, "--checkpoint", "{d}/same", "--out", "{d}/same"], 2, ["--checkpoint and --out must be different"]),
    ("diverges", [*TRAIN, *GOOD, "--optimizer", "sgd", "--lr", "1e30", "--batch-size", "4"], 1, ["diverged", "epoch 1, step 2", "Lower the learning rate", "clip_norm"]),
    ("resume-model-file", [*TRAIN, *GOOD, "--resume", "{d}/model.safetensors"], 1, ["is a model file, not a checkpoint"]),
    ("resume-tampered", [*TRAIN, *GOOD, "--resume", "{d}/tampered.safetensors"], 1, ["corrupt or was modified", "SHA-256"]),
    # ---------------------------------------------------------------- predict and evaluate
    ("model-missing", ["predict", "{d}/none.safetensors", "{d}/row.npy"], 1, ["none.safetensors does not exist"]),
    ("model-is-text", ["predict", "{d}/text.safetensors", "{d}/row.npy"], 1, ["not a valid safetensors file", "header claims"]),
    ("model-tampered", ["predict", "{d}/tampered.safetensors", "{d}/row.npy"], 1, ["corrupt or was modified"]),
    ("model-truncated", ["predict", "{d}/truncated.safetensors", "{d}/row.npy"], 1, ["truncated.safetensors", "header claims"]),
    ("model-from-another-tool", ["predict", "{d}/foreign.safetensors", "{d}/row.npy"], 1, ["not a deltaprop model"]),
    ("model-newer-format", ["predict", "{d}/newer.safetensors", "{d}/row.npy"], 1, ["file format 99", "upgrade deltaprop"]),
    ("input-wrong-width", ["predict", "{d}/model.safetensors", "{d}/wide.npy"], 1, ["wide.npy has shape (2, 6)", "(N, 5)"]),
    ("input-nan", ["predict", "{d}/model.safetensors", "{d}/nan.npy"], 1, ["NaN"]),
    ("input-pickled", ["predict", "{d}/model.safetensors", "{d}/objects.npy"], 1, ["objects.npy is not a numeric .npy array"]),
    ("input-empty-npy", ["predict", "{d}/model.safetensors", "{d}/empty.npy"], 1, ["empty.npy is not a numeric .npy array"]),
    ("input-forged-npy", ["predict", "{d}/model.safetensors", "{d}/forged.npy"], 1, ["forged.npy is not a numeric .npy array"]),
    ("input-csv-not-numbers", ["predict", "{d}/model.safetensors", "{d}/inputs_bad.csv"], 1, ["inputs_bad.csv line 2, column 3", "not a number"]),
    ("input-missing", ["predict", "{d}/model.safetensors", "{d}/none.npy"], 1, ["none.npy does not exist"]),
    ("image-not-an-image", ["predict", "{d}/square.safetensors", "{d}/not_image.png"], 1, ["not an image Pillow can read"]),
    ("image-flat", ["predict", "{d}/square.safetensors", "{d}/flat.png"], 1, ["single flat color"]),
    ("image-for-non-square-model", ["predict", "{d}/model.safetensors", "{d}/digit.png"], 1, ["5 inputs", "not a square image"]),
    ("output-suffix", ["predict", "{d}/model.safetensors", "{d}/row.npy", "--output", "{d}/p.txt"], 2, ["must end in .csv or .json"]),
    ("evaluate-wrong-width", ["evaluate", "{d}/square.safetensors", *GOOD], 1, ["5 features per sample", "takes 4"]),
    ("evaluate-model-from-another-tool", ["evaluate", "{d}/foreign.safetensors", *GOOD], 1, ["not a deltaprop model"]),
    # ---------------------------------------------------------------- an output never destroys an input
    ("resume-out-same-file-by-symlink", [*TRAIN, *GOOD, "--resume", "{d}/run.ckpt", "--out", "{d}/run-symlink.ckpt"], 2, ["--out", "run-symlink.ckpt", "same file as --resume"]),
    ("checkpoint-out-same-file-by-hard-link", [*TRAIN, *GOOD, "--checkpoint", "{d}/run.ckpt", "--out", "{d}/run-hardlink.ckpt"], 2, ["--checkpoint and --out must be different files"]),
    ("out-is-the-data", [*TRAIN, *GOOD, "--out", "{d}/good-hardlink.csv"], 2, ["--out", "same file as --data"]),
    ("report-out-is-its-model", ["report", "{d}/model.safetensors", "--out", "{d}/model-hardlink.safetensors"], 2, ["--out", "same file as MODEL"]),
    ("export-over-its-model", ["export", "{d}/model.safetensors", "{d}/model-symlink.safetensors"], 2, ["OUTPUT", "same file as MODEL"]),
    ("predict-output-is-its-input", ["predict", "{d}/model.safetensors", "{d}/inputs.csv", "--output", "{d}/inputs-hardlink.csv"], 2, ["--output", "same file as INPUT"]),
    # ---------------------------------------------------------------- checked before training
    ("out-not-writable", [*TRAIN, *GOOD, "--out", "/sys/m.safetensors"], 1, ["--out /sys/m.safetensors", "cannot write in /sys"]),
    ("checkpoint-not-writable", [*TRAIN, *GOOD, "--checkpoint", "/sys/run.ckpt"], 1, ["--checkpoint /sys/run.ckpt", "cannot write in /sys"]),
    ("plots-not-writable", [*TRAIN, *GOOD, "--plots", "/sys/plots"], 1, ["--plots /sys/plots", "cannot write in /sys"]),
    ("predict-output-not-writable", ["predict", "{d}/model.safetensors", "{d}/row.npy", "--output", "/sys/p.csv"], 1, ["--output /sys/p.csv", "cannot write in /sys"]),
    ("test-split-empty-csv", [*TRAIN, "--data", "{d}/two_rows.csv"], 1, ["the test split of --data", "two_rows.csv", "is empty"]),
    ("test-split-empty-npz", [*TRAIN, "--data", "{d}/empty_test.npz"], 1, ["the test split of --data", "empty_test.npz", "is empty"]),
    ("test-split-overflows", [*TRAIN, "--data", "{d}/huge_test.npz"], 1, ["the test split of --data", "NaN or infinite"]),
    ("evaluate-split-empty", ["evaluate", "{d}/model.safetensors", "--data", "{d}/two_rows.csv"], 1, ["the test split of --data", "is empty"]),
    # ---------------------------------------------------------------- memory stays bounded
    ("label-far-beyond-the-others", [*TRAIN, "--data", "{d}/big_label.csv"], 1, ["label 100000000", "100,000,001 classes", "renumber"]),
    ("idx-gzip-header-bomb", [*TRAIN, "--data", "{d}/idx_bomb"], 1, ["train-images-idx3-ubyte.gz", "gzipped bytes can hold"]),
    ("npz-deflated-bomb", [*TRAIN, "--data", "{d}/bomb.npz"], 1, ["x_train.npy", "more than"]),
    ("image-decompression-bomb", ["predict", "{d}/square.safetensors", "{d}/bomb.png"], 1, ["bomb.png", "decompression bomb"]),
    # ---------------------------------------------------------------- nothing silently wrong, no internal errors
    ("predict-outputs-overflow", ["predict", "{d}/huge_weights.safetensors", "{d}/row.npy"], 1, ["outputs", "NaN or infinite"]),
    ("evaluate-outputs-overflow", ["evaluate", "{d}/huge_weights.safetensors", *GOOD, "--json"], 1, ["outputs", "NaN or infinite"]),
    ("model-tensor-disagrees-unhashed", ["predict", "{d}/hand_made.safetensors", "{d}/row.npy"], 1, ["'0.weight'", "(8, 4)", "(8, 5)", "SHA-256"]),
    ("input-fifo", ["predict", "{d}/model.safetensors", "{d}/pipe.npy"], 1, ["pipe.npy", "not a regular file"]),
    ("config-fifo", [*TRAIN, *GOOD, "--config", "{d}/pipe.toml"], 2, ["pipe.toml", "not a regular file"]),
    ("data-fifo", [*TRAIN, "--data", "{d}/pipe.csv"], 1, ["pipe.csv", "not a regular file"]),
    ("grid-fifo", ["sweep", "--grid", "{d}/pipe.toml"], 1, ["pipe.toml", "not a regular file"]),
]  # fmt: skip


def _idx(array: np.ndarray) -> bytes:
    dims = struct.pack(f">{array.ndim}I", *array.shape)
    return bytes([0, 0, 0x08, array.ndim]) + dims + array.tobytes()


def _idx_directory(directory: Path, change=None, skip: str = "") -> None:
    directory.mkdir()
    for stem in IDX_FILES:
        images = "images" in stem
        data = _idx(np.zeros((4, 2, 2) if images else 4, np.uint8))
        if change is not None and stem == IDX_FILES[0]:
            stem, data = change(stem, data)
        if stem != skip:
            (directory / stem).write_bytes(data)


def _write_files(d: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [f"{i % 3}," + ",".join(f"{v:.3f}" for v in rng.random(5)) for i in range(60)]
    lines = ["label,a,b,c,d,e", *rows]
    (d / "good.csv").write_text("\n".join(lines) + "\n")
    (d / "header_inside.csv").write_text("\n".join([*lines[:4], lines[0], *lines[4:]]) + "\n")
    (d / "ragged.csv").write_text("\n".join([*lines[:3], "1,0.5,0.5", *lines[3:]]) + "\n")
    (d / "no_label.csv").write_text("0.25,1,2\n0.5,3,4\n")
    (d / "one_column.csv").write_text("1\n2\n0\n")
    (d / "nan.csv").write_text("\n".join([*lines[:2], "1,0.5,nan,1,1,1", *lines[2:]]) + "\n")
    (d / "words.csv").write_text("\n".join([*lines[:2], "2,x,1,1,1,1"]) + "\n")
    (d / "empty.csv").write_text("\n")
    _idx_directory(d / "idx_magic", lambda stem, b: (stem, b"\x1f\x8b" + b[2:]))
    _idx_directory(d / "idx_truncated", lambda stem, b: (stem, b[:-3]))
    _idx_directory(d / "idx_too_long", lambda stem, b: (stem, b + b"\0"))
    _idx_directory(d / "idx_gzip", lambda stem, b: (f"{stem}.gz", b"\x1f\x8b\x08" + b))
    _idx_directory(d / "idx_missing", skip=IDX_FILES[2])
    _idx_directory(d / "idx_counts", lambda stem, b: (stem, b[:4] + struct.pack(">I", 3) + b[8:-4]))
    objects = np.array([{}], dtype=object)
    np.savez(d / "pickled.npz", x_train=objects, y_train=[0], x_test=[[0.0]], y_test=[0])
    dp.Network.from_sizes([5, 8, 3]).save(d / "model.safetensors")
    dp.Network.from_sizes([4, 3]).save(d / "square.safetensors")
    model = (d / "model.safetensors").read_bytes()
    (d / "text.safetensors").write_text("not a model\n")
    (d / "tampered.safetensors").write_bytes(model[:-3] + bytes([model[-3] ^ 4]) + model[-2:])
    (d / "truncated.safetensors").write_bytes(model[: len(model) // 2])
    from safetensors.numpy import save

    (d / "foreign.safetensors").write_bytes(save({"weight": np.ones((2, 2), np.float32)}))
    document, tensors = tensors_of(model)
    (d / "newer.safetensors").write_bytes(build({**document, "format_version": 99}, tensors))
    np.save(d / "row.npy", np.ones(5))
    np.save(d / "wide.npy", np.ones((2, 6)))
    np.save(d / "nan.npy", np.array([[1, 2, np.nan, 4, 5.0]]))
    np.save(d / "objects.npy", objects, allow_pickle=True)
    (d / "empty.npy").write_bytes(b"")
    with open(d / "forged.npy", "wb") as forged:  # declares 80 GB, holds 64 bytes
        fields = {"descr": "<f8", "fortran_order": False, "shape": (10**5, 10**5)}
        np.lib.format.write_array_header_1_0(forged, fields)
        forged.write(bytes(64))
    (d / "inputs_bad.csv").write_text("1,2,3,4,5\n1,2,x,4,5\n")
    from PIL import Image

    (d / "not_image.png").write_text("hello")
    Image.fromarray(np.full((9, 9), 255, np.uint8)).save(d / "flat.png")
    Image.fromarray((np.eye(9) * 255).astype(np.uint8)).save(d / "digit.png")
    (d / "bad.toml").write_text("epochs = [\n")
    (d / "unknown_key.toml").write_text("epoch = 3\n")
    _write_round_two_files(d, lines, model)


def _write_round_two_files(d: Path, lines: list[str], model: bytes) -> None:
    """The inputs of the cases of issues 14 and 15 (links, bombs, overflows, pipes)."""
    network = dp.Network.from_sizes([5, 4, 3])
    network.fit(np.ones((6, 5)), np.arange(6) % 3, epochs=1, checkpoint=d / "run.ckpt")
    os.symlink(d / "run.ckpt", d / "run-symlink.ckpt")
    os.link(d / "run.ckpt", d / "run-hardlink.ckpt")
    os.link(d / "good.csv", d / "good-hardlink.csv")
    os.link(d / "model.safetensors", d / "model-hardlink.safetensors")
    os.symlink(d / "model.safetensors", d / "model-symlink.safetensors")
    (d / "inputs.csv").write_text("1,2,3,4,5\n0,0,0,0,1\n")
    os.link(d / "inputs.csv", d / "inputs-hardlink.csv")
    (d / "two_rows.csv").write_text("\n".join(lines[:3]) + "\n")
    (d / "big_label.csv").write_text("\n".join([*lines[:5], "100000000,1,1,1,1,1"]) + "\n")
    ones, labels = np.ones((10, 5)), np.arange(10) % 2
    np.savez(d / "empty_test.npz", x_train=ones, y_train=labels, x_test=ones[:0], y_test=labels[:0])
    np.savez(
        d / "huge_test.npz",
        x_train=np.eye(10, 5),
        y_train=labels,
        x_test=np.full((2, 5), 1e300),
        y_test=labels[:2],
    )
    (d / "idx_bomb").mkdir()
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 10**6, 1000, 1000)
    for stem in IDX_FILES:
        (d / "idx_bomb" / f"{stem}.gz").write_bytes(gzip.compress(header + bytes(1000)))
    npz_bomb(d / "bomb.npz")
    png_bomb(d / "bomb.png", 20000, 20000)
    huge = dp.Network.from_sizes([5, 8, 3])
    huge.layers[0].weights = np.full((8, 5), 3e38, np.float32)
    huge.save(d / "huge_weights.safetensors")
    document, tensors = tensors_of(model)
    tensors = {**tensors, "0.weight": np.zeros((8, 4), np.float32)}
    (d / "hand_made.safetensors").write_bytes(build(document, tensors, rehash=False))
    for name in ("pipe.npy", "pipe.toml", "pipe.csv"):
        os.mkfifo(d / name)


def _output_of(arguments: list[str], out: Path) -> list[str]:
    """The arguments plus an output file holding the user's data, when the command has one."""
    if arguments[0] == "train" and "--out" not in arguments:
        return [*arguments, "--out", str(out.with_suffix(".safetensors"))]
    if arguments[0] == "predict" and "--output" not in arguments:
        return [*arguments, "--output", str(out.with_suffix(".csv"))]
    return arguments


def deltaprop(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deltaprop", *arguments],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("files")
    _write_files(d)
    return d


@pytest.fixture(scope="module")
def inputs_before(files) -> dict[str, bytes]:
    return _snapshot(files)


@pytest.fixture(scope="module")
def results(files, inputs_before, tmp_path_factory):
    """Run every case, four processes at a time; map each id to (result, its output folder)."""
    d = files
    jobs = {}
    for name, arguments, _, _ in CASES:
        outputs = tmp_path_factory.mktemp(name)
        for suffix in (".safetensors", ".csv"):
            (outputs / f"out{suffix}").write_bytes(PREVIOUS)
        argv = _output_of([a.format(d=d) for a in arguments], outputs / "out")
        jobs[name] = (argv, outputs)
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = {name: pool.submit(deltaprop, *argv) for name, (argv, _) in jobs.items()}
        return {name: (future.result(), jobs[name][1]) for name, future in done.items()}


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [(case[0], case[2], case[3]) for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_through_the_cli(results, name, status, words):
    result, outputs = results[name]
    assert result.returncode == status, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    missing = [word for word in words if word.lower() not in lines[0].lower()]
    assert not missing, f"{missing} not in {lines[0]!r}"
    assert lines[0].startswith(
        tuple(
            f"deltaprop {c}: "
            for c in ("train", "predict", "evaluate", "report", "export", "sweep")
        )
    )
    assert ".tmp" not in lines[0] and "internal error" not in lines[0]
    if "--json" in result.args:  # never half a JSON document
        assert result.stdout == ""
    for path in outputs.iterdir():  # the user's file untouched, no temporary file left
        assert path.name in ("out.safetensors", "out.csv") and path.read_bytes() == PREVIOUS


def test_no_case_changed_any_of_its_inputs(files, inputs_before, results):
    assert results  # every case has run
    assert _snapshot(files) == inputs_before


def test_ctrl_c_while_the_command_starts_exits_130_in_one_line():
    """SIGINT as soon as NumPy is being loaded (the library's imports, before main runs)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc to see when the process imports NumPy")
    # As from a terminal: under `nohup` or `cmd &` in a script this process has SIGINT ignored,
    # and so would the command. A handled signal is back to its default in the command.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "deltaprop", "train", "--data", "digits", "--epochs", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
    finally:
        signal.signal(signal.SIGINT, ignored)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if "numpy" in Path(f"/proc/{process.pid}/maps").read_text():
                break
        except OSError:
            pass
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["deltaprop: interrupted"] or (
        len(stderr.splitlines()) == 1 and "interrupted" in stderr and "Traceback" not in stderr
    ), stderr


def test_debug_shows_the_traceback(tmp_path):
    result = deltaprop("--debug", "predict", str(tmp_path / "none.safetensors"), "x.npy")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("deltaprop.errors.ModelFileError")
