"""The ``deltaprop`` command line, on real MNIST digits.

A few tests start ``python -m deltaprop`` as a subprocess (exit codes, one-line errors, Ctrl-C);
the rest call ``deltaprop.cli.main`` in this process, which runs the same code without paying
for a new interpreter each time.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import missing

import deltaprop as dp
from deltaprop.cli import SUBCOMMANDS, build_parser, main
from deltaprop.datasets import load_digits, load_mnist
from deltaprop.io import read_file, save_checkpoint

SRC = Path(__file__).resolve().parents[1] / "src"


def deltaprop(*args: str, cwd: Path | None = None, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deltaprop", *map(str, args)],
        capture_output=True,
        text=True,
        env=environment(),
        cwd=cwd,
        timeout=120,
        **options,
    )


def environment() -> dict[str, str]:
    paths = [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture(scope="module")
def mnist():
    try:
        return load_mnist()
    except dp.DataNotFoundError as error:
        missing(str(error))


@pytest.fixture(scope="module")
def small_npz(mnist, tmp_path_factory):
    """600 training and 300 test MNIST digits as an .npz, as a user's own data file would be."""
    (x_train, y_train), (x_test, y_test) = mnist
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(
        path, x_train=x_train[:600], y_train=y_train[:600], x_test=x_test[:300], y_test=y_test[:300]
    )
    return path


@pytest.fixture(scope="module")
def trained(mnist, tmp_path_factory):
    """One real ``deltaprop train`` subprocess: one epoch on the first 600 MNIST digits."""
    directory = tmp_path_factory.mktemp("train")
    result = deltaprop(
        "train",
        "--data",
        "mnist",
        "--limit",
        "600",
        "--layers",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--lr",
        "3e-3",
        "--validation-split",
        "0.1",
        "--json",
        "--out",
        "model.safetensors",
        cwd=directory,
    )
    assert result.returncode == 0, result.stderr
    return directory / "model.safetensors", json.loads(result.stdout), result.stderr


def run(capsys, *args) -> tuple[int, str, str]:
    """``deltaprop ARGS`` in this process: (status, stdout, stderr)."""
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit:  # argparse's usage errors and --help
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


# ------------------------------------------------------------------ train
def test_train_writes_a_model_and_json_with_history_and_test_metrics(trained, mnist):
    path, report, stderr = trained
    assert report["sizes"] == [784, 32, 10] and report["epochs"] == 1
    assert set(report["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert report["test"]["accuracy"] > 0.6  # better than chance after 17 steps
    assert "epoch 1/1: loss" in stderr  # the per-epoch line
    network = dp.load(path)
    _, (x_test, y_test) = mnist
    assert network.evaluate(x_test, y_test) == pytest.approx(report["test"])


def test_train_from_a_file_prints_test_accuracy(capsys, tmp_path, small_npz):
    status, out, err = run(
        capsys,
        "train",
        "--data",
        small_npz,
        "--layers",
        "16",
        "--epochs",
        "2",
        "--out",
        tmp_path / "m.safetensors",
    )
    assert status == 0, err
    assert "test accuracy" in out and "saved 784-16-10" in out
    assert "epoch 2/2: loss" in err and "training 784-16-10" in err


def test_quiet_prints_only_the_result(capsys, tmp_path, small_npz):
    status, out, err = run(
        capsys,
        "train",
        "--data",
        small_npz,
        "--layers",
        "8",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        tmp_path / "m.safetensors",
    )
    assert status == 0 and err == ""
    assert out.startswith("test loss") and len(out.splitlines()) == 1


def test_config_file_with_flags_overriding_it(capsys, tmp_path, small_npz):
    config = tmp_path / "run.toml"
    config.write_text(
        f'data = "{small_npz}"\nlayers = [12, 6]\nbatch-size = 50\nepochs = 9\n'
        'optimizer = "sgd"\nmomentum = 0.9\nlr = 0.05\nschedule = "cosine"\n'
        "validation_split = 0.2\nearly_stopping = 4\nquiet = true\n"
    )
    status, out, err = run(
        capsys,
        "train",
        "--config",
        config,
        "--epochs",
        "2",
        "--json",
        "--out",
        tmp_path / "m.safetensors",
    )
    assert status == 0, err
    report = json.loads(out)
    assert report["sizes"] == [784, 12, 6, 10] and report["epochs"] == 2  # the flag won
    steps = 2 * 10  # two epochs of ceil(480 / 50) = 10 updates
    cosine = [0.05 * (1 + np.cos(np.pi * s / steps)) / 2 for s in (10, 20)]
    assert report["history"]["lr"] == pytest.approx(cosine)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("batchsize = 3", "unknown key 'batchsize' (did you mean 'batch-size'?)"),
        ("lr = 'fast'", "lr: expected a number, got 'fast'"),
        ("layers = [3, 0]", "layers: expected positive integers"),
        ("json = 1", "json must be true or false"),
        ("epochs = ", "not valid TOML"),
    ],
)
def test_bad_config_files_are_usage_errors(capsys, tmp_path, content, message):
    config = tmp_path / "bad.toml"
    config.write_text(content + "\n")
    status, _, err = run(capsys, "train", "--config", config)
    assert status == 2 and message in err and len(err.splitlines()) == 1


def test_a_failed_training_leaves_the_existing_out_file_untouched(capsys, tmp_path, small_npz):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"the user's model")
    status, _, err = run(
        capsys,
        "train",
        "--data",
        small_npz,
        "--optimizer",
        "sgd",
        "--lr",
        "1e30",
        "--epochs",
        "3",
        "--quiet",
        "--out",
        out,
    )
    assert status == 1 and "diverged" in err
    assert out.read_bytes() == b"the user's model"


# ------------------------------------------------------------------ Ctrl-C and resume
def test_ctrl_c_saves_the_checkpoint_exits_130_and_resume_is_bit_identical(
    capsys, tmp_path, small_npz
):
    out, checkpoint = tmp_path / "m.safetensors", tmp_path / "run.ckpt"
    out.write_bytes(b"the user's model")
    options = [
        "--data",
        small_npz,
        "--layers",
        "8",
        "--dropout",
        "0.2",
        "--batch-size",
        "64",
        "--optimizer",
        "nesterov",
        "--lr",
        "0.02",
        "--weight-decay",
        "1e-4",
        "--quiet",
    ]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deltaprop",
            "train",
            *map(str, options),
            "--epochs",
            "100000",
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"checkpoint saved to {checkpoint}" in stderr and "--resume" in stderr
    assert out.read_bytes() == b"the user's model"

    position = read_file(checkpoint)[0]["position"]
    epochs = str(position["epoch"] + 2)  # the interrupted epoch and one more
    reference = tmp_path / "reference.safetensors"
    assert run(capsys, "train", *options, "--epochs", epochs, "--out", reference)[0] == 0
    # The architecture, dropout, batch size and optimizer come back from the checkpoint.
    resumed = run(
        capsys,
        "train",
        "--data",
        small_npz,
        "--epochs",
        epochs,
        "--resume",
        checkpoint,
        "--out",
        out,
        "--quiet",
    )
    assert resumed[0] == 0, resumed[2]
    expected, actual = read_file(reference)[1], read_file(out)[1]
    assert sorted(expected) == sorted(actual)
    for name in expected:
        assert np.array_equal(expected[name], actual[name])


# ------------------------------------------------------------------ evaluate
def test_evaluate_json_matches_the_library(capsys, trained, mnist):
    path, _, _ = trained
    status, out, err = run(capsys, "evaluate", path, "--data", "mnist", "--limit", "500", "--json")
    assert status == 0, err
    report = json.loads(out)
    _, (x_test, y_test) = mnist
    scores = dp.load(path).evaluate(x_test[:500], y_test[:500])
    assert report["loss"] == pytest.approx(scores["loss"])
    assert report["accuracy"] == pytest.approx(scores["accuracy"])
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 500
    assert report["support"] == np.bincount(y_test[:500], minlength=10).tolist()


def test_evaluate_prints_per_class_table_and_confusion_matrix(capsys, trained, small_npz):
    status, out, _ = run(capsys, "evaluate", trained[0], "--data", small_npz)
    assert status == 0
    assert "on 300 test samples" in out and "accuracy" in out
    assert "class  precision   recall  support" in out
    assert "confusion matrix (rows: true class, columns: predicted class)" in out


def test_evaluate_refuses_data_of_another_width(capsys, trained, tmp_path):
    other = tmp_path / "narrow.npz"
    rng = np.random.default_rng(0)
    np.savez(
        other,
        x_train=rng.random((4, 64)),
        y_train=np.arange(4),
        x_test=rng.random((4, 64)),
        y_test=np.arange(4),
    )
    status, _, err = run(capsys, "evaluate", trained[0], "--data", other)
    assert status == 1 and "has 64 features per sample but the model takes 784" in err


# ------------------------------------------------------------------ predict
def test_predict_from_npy_csv_and_png_agree_with_the_library(capsys, trained, mnist, tmp_path):
    from PIL import Image

    path = trained[0]
    network = dp.load(path)
    _, (x_test, _) = mnist
    probabilities = network.predict_proba(x_test[:3])
    pixels = np.round(x_test[:3] * 255).astype(np.uint8)

    np.save(tmp_path / "three.npy", pixels.reshape(3, 28, 28))  # uint8 images, as MNIST's
    status, out, _ = run(
        capsys, "predict", path, tmp_path / "three.npy", "--output", tmp_path / "p.json"
    )
    assert status == 0
    written = json.loads((tmp_path / "p.json").read_text())["predictions"]
    assert [row["class"] for row in written] == probabilities.argmax(axis=1).tolist()
    assert np.allclose([row["probabilities"] for row in written], probabilities, atol=1e-6)
    assert out.splitlines()[0].startswith(f"sample 0: class {probabilities[0].argmax()}")

    np.savetxt(tmp_path / "three.csv", x_test[:3], delimiter=",", header="pixels")
    status, _, _ = run(
        capsys, "predict", path, tmp_path / "three.csv", "--output", tmp_path / "p.csv"
    )
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert status == 0 and lines[0] == "sample,class," + ",".join(f"p{k}" for k in range(10))
    table = np.array([[float(cell) for cell in line.split(",")] for line in lines[1:]])
    assert np.allclose(table[:, 2:], probabilities, atol=1e-6)

    Image.fromarray(pixels[0].reshape(28, 28)).save(tmp_path / "digit.png")
    status, out, _ = run(capsys, "predict", path, tmp_path / "digit.png")
    assert status == 0
    assert out.startswith(f"class {probabilities[0].argmax()} ")
    assert len(out.splitlines()) == 11  # the class, then one probability per class


def test_a_csv_with_a_utf8_bom_is_read_alike_by_train_and_predict(capsys, tmp_path):
    """Excel's "CSV UTF-8" starts with a byte order mark: no command takes row 1 for a header."""
    rng = np.random.default_rng(0)
    features = rng.random((20, 3)).round(3)
    labels = (features[:, 0] > 0.5).astype(int)
    bom = b"\xef\xbb\xbf"

    def write(path, table):
        text = "\n".join(",".join(f"{v:g}" for v in row) for row in table) + "\n"
        path.write_bytes(bom + text.encode())

    write(tmp_path / "labelled.csv", np.column_stack([labels, features]))
    write(tmp_path / "rows.csv", features)
    model = tmp_path / "m.safetensors"
    train = ["train", "--data", tmp_path / "labelled.csv", "--layers", "4", "--epochs", "1"]
    status, _, err = run(capsys, *train, "--quiet", "--out", model)
    assert status == 0, err
    (x_train, _), (x_test, _) = dp.datasets.load_csv(tmp_path / "labelled.csv")
    assert len(x_train) + len(x_test) == 20  # training kept every row
    status, _, err = run(
        capsys, "predict", model, tmp_path / "rows.csv", "--output", tmp_path / "p.json"
    )
    assert status == 0, err
    written = json.loads((tmp_path / "p.json").read_text())["predictions"]
    assert [row["sample"] for row in written] == list(range(20))  # predict kept every row
    expected = dp.load(model).predict_proba(features)
    np.testing.assert_allclose([row["probabilities"] for row in written], expected, atol=1e-6)


def test_predict_errors(capsys, trained, tmp_path):
    path = trained[0]
    np.save(tmp_path / "wide.npy", np.zeros((2, 785)))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    cases = [
        ((tmp_path / "wide.npy",), 1, "has shape (2, 785) but the model takes samples of 784"),
        ((tmp_path / "notes.txt",), 1, "unknown input type .txt"),
        ((tmp_path / "broken.png",), 1, "is not an image Pillow can read"),
        ((tmp_path / "missing.npy",), 1, "does not exist"),
        ((tmp_path / "wide.npy", "--output", tmp_path / "p.txt"), 2, "must end in .csv or .json"),
    ]
    for args, expected_status, message in cases:
        status, _, err = run(capsys, "predict", path, *args)
        assert (status, len(err.splitlines())) == (expected_status, 1), err
        assert message in err


# ------------------------------------------------------------------ gradcheck
def test_gradcheck_of_a_random_network_passes(capsys):
    status, out, _ = run(
        capsys, "gradcheck", "--layers", "5,4,3", "--activation", "tanh", "--loss", "mse"
    )
    assert status == 0
    assert "gradient check of 5-4-3 (mse)" in out and out.rstrip().endswith("PASS")
    assert len([line for line in out.splitlines() if line.rstrip().endswith("pass")]) == 2


def test_gradcheck_fails_with_status_1_when_the_tolerance_cannot_be_met(capsys):
    status, out, _ = run(
        capsys,
        "gradcheck",
        "--layers",
        "4,3,2",
        "--loss",
        "cross_entropy",
        "--tolerance",
        "1e-30",
        "--json",
    )
    assert status == 1
    assert json.loads(out)["passed"] is False


def test_gradcheck_of_a_saved_model_on_data(capsys, trained, small_npz):
    status, out, _ = run(
        capsys,
        "gradcheck",
        trained[0],
        "--data",
        small_npz,
        "--samples",
        "3",
        "--max-checks",
        "5",
        "--json",
    )
    report = json.loads(out)
    assert status == 0 and report["passed"]
    assert [layer["checked"] for layer in report["layers"]] == [10, 10]


# ------------------------------------------------------------------ usage and exit codes
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "mnist", "--activation", "rellu"], "(did you mean 'relu'?)"),
        (["train", "--data", "mnist", "--lr", "-1"], "expected a number > 0"),
        (["train", "--data", "mnist", "--epochz", "3"], "(did you mean '--epochs'?)"),
        (["train"], "--data is required"),
        (["train", "--data", "mnist", "--momentum", "0.9"], "--momentum applies to"),
        (["train", "--data", "mnist", "--early-stopping", "2"], "add --validation-split"),
        (["train", "--data", "mnist", "--checkpoint", "a", "--out", "a"], "different files"),
        (["gradcheck"], "give either MODEL or --layers"),
        (["evaluate", "m.safetensors"], "the following arguments are required: --data"),
    ],
)
def test_bad_usage_exits_2_with_one_line(capsys, args, message):
    status, _, err = run(capsys, *args)
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err


def test_runtime_errors_exit_1_with_one_line(capsys, tmp_path):
    cases = [
        (["train", "--data", "mnsit"], "(did you mean 'mnist'?)"),
        (["evaluate", tmp_path / "none.safetensors", "--data", "mnist"], "does not exist"),
        (["train", "--data", "mnist", "--out", tmp_path / "no" / "m.st"], "does not exist"),
    ]
    for args, message in cases:
        status, _, err = run(capsys, *args)
        assert status == 1 and len(err.splitlines()) == 1 and message in err, err


def test_the_process_exit_codes_and_one_line_errors():
    usage = deltaprop("train", "--data", "mnist", "--epochs", "zero")
    assert usage.returncode == 2 and usage.stdout == ""
    assert usage.stderr.splitlines() == [
        "deltaprop train: error: argument --epochs: expected a positive integer, got 'zero' "
        "(see deltaprop train --help)"
    ]
    runtime = deltaprop("evaluate", "missing.safetensors", "--data", "mnist")
    assert runtime.returncode == 1
    assert runtime.stderr.splitlines() == [
        "deltaprop evaluate: error: model file missing.safetensors does not exist"
    ]
    version = deltaprop("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"deltaprop {dp.__version__}"


def test_every_subcommand_has_help_with_examples(capsys):
    assert SUBCOMMANDS[:4] == ["train", "evaluate", "predict", "gradcheck"]
    for name in SUBCOMMANDS:
        status, out, _ = run(capsys, name, "--help")
        assert status == 0 and f"examples:\n  deltaprop {name} " in out
    assert all(name in build_parser().format_help() for name in SUBCOMMANDS)


def test_plots_is_imported_only_when_asked_for(capsys, tmp_path, small_npz):
    # without --plots, neither deltaprop.plots nor matplotlib is imported
    args = ["train", "--data", str(small_npz), "--layers", "4", "--epochs", "1", "--quiet"]
    args += ["--out", str(tmp_path / "plain.st")]
    probe = (
        f"import sys; from deltaprop.cli import main; main({args!r}); "
        "print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'deltaprop.plots'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"

    status, _, err = run(
        capsys,
        "train",
        "--data",
        small_npz,
        "--layers",
        "4",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        tmp_path / "m.st",
        "--plots",
        tmp_path / "plots",
    )
    assert status == 0, err
    assert any((tmp_path / "plots").iterdir())


def test_options_that_do_not_fit_the_data_or_each_other_are_usage_errors(capsys, small_npz):
    cases = [
        (["--loss", "binary_cross_entropy"], "needs labels 0 and 1, the data has 10 classes"),
        (["--output-activation", "sigmoid"], "needs a softmax output"),
    ]
    for args, message in cases:
        status, _, err = run(capsys, "train", "--data", small_npz, *args)
        assert status == 2 and message in err, err


def test_a_binary_classifier_end_to_end(capsys, mnist, tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist
    zeros_and_ones = [np.flatnonzero(y < 2)[:200] for y in (y_train, y_test)]
    data = tmp_path / "binary.npz"
    np.savez(
        data,
        x_train=x_train[zeros_and_ones[0]],
        y_train=y_train[zeros_and_ones[0]],
        x_test=x_test[zeros_and_ones[1]],
        y_test=y_test[zeros_and_ones[1]],
    )
    model = tmp_path / "binary.safetensors"
    status, out, err = run(
        capsys,
        "train",
        "--data",
        data,
        "--layers",
        "8",
        "--loss",
        "binary_cross_entropy",
        "--epochs",
        "3",
        "--out",
        model,
        "--json",
    )
    assert status == 0, err
    assert json.loads(out)["sizes"] == [784, 8, 1]
    status, out, _ = run(capsys, "evaluate", model, "--data", data, "--json")
    assert status == 0 and np.array(json.loads(out)["confusion_matrix"]).shape == (2, 2)
    np.save(tmp_path / "one.npy", x_test[zeros_and_ones[1][:1]])
    status, out, _ = run(capsys, "predict", model, tmp_path / "one.npy")
    assert status == 0 and out.startswith(f"class {y_test[zeros_and_ones[1][0]]} ")
    assert len(out.splitlines()) == 3  # the class, then P(0) and P(1)


# ------------------------------------------------------------------ train options take effect
# scikit-learn's 8x8 digits (no MNIST needed): 512 training rows in batches of 128, so 4 steps
# per epoch.
DIGITS = ["--data", "digits", "--limit", "512", "--batch-size", "128", "--layers", "8"]
STEPS_PER_EPOCH = 4


@pytest.fixture(scope="module")
def digits_available():
    try:
        load_digits()
    except dp.DataNotFoundError as error:
        missing(str(error))


def train_digits(capsys, tmp_path, *flags) -> dict:
    """``deltaprop train`` on the digits with ``flags``: the ``--json`` report."""
    out = tmp_path / "model.safetensors"
    status, stdout, stderr = run(
        capsys, "train", *DIGITS, "--quiet", "--json", "--out", out, *flags
    )
    assert status == 0, stderr
    return json.loads(stdout)


@pytest.mark.parametrize(
    ("name", "schedule"),
    [
        ("step", dp.StepDecay(STEPS_PER_EPOCH, 0.1)),  # x0.1 every third of the 3 epochs
        ("exponential", dp.ExponentialDecay(0.01, decay_steps=3 * STEPS_PER_EPOCH)),
        ("inverse_scaling", dp.InverseScaling(0.5)),
        ("cosine", dp.CosineDecay(3 * STEPS_PER_EPOCH)),
        ("constant", dp.Constant()),
    ],
)
def test_schedule_sets_the_learning_rate_of_every_epoch(
    capsys, tmp_path, digits_available, name, schedule
):
    report = train_digits(capsys, tmp_path, "--epochs", "3", "--lr", "0.01", "--schedule", name)
    # history["lr"] is the rate the next update uses: after e epochs, at step e·4.
    expected = [schedule(0.01, epoch * STEPS_PER_EPOCH) for epoch in (1, 2, 3)]
    assert report["history"]["lr"] == pytest.approx(expected, rel=1e-6)


def test_clip_norm_bounds_how_far_each_update_moves_the_parameters(
    capsys, tmp_path, digits_available
):
    # Plain SGD moves the parameters by lr·‖g‖ per step; clipped to ‖g‖ <= 0.01 the 4 steps of
    # one epoch move them by at most 4 · 0.5 · 0.01 = 0.02 in all. Unclipped they move further.
    def distance_moved(*flags):
        out = tmp_path / "model.safetensors"
        train_digits(capsys, tmp_path, "--epochs", "1", "--optimizer", "sgd", "--lr", "0.5", *flags)
        start = dp.Network.from_sizes([64, 8, 10], seed=0).parameters()
        moved = [trained - initial for trained, initial in zip(dp.load(out).parameters(), start)]
        return math.sqrt(sum(float(np.sum(np.square(m, dtype=np.float64))) for m in moved))

    assert distance_moved("--clip-norm", "0.01") <= STEPS_PER_EPOCH * 0.5 * 0.01 * (1 + 1e-4)
    assert distance_moved() > 0.1


def test_checkpoint_every_writes_the_checkpoint_that_often_and_after_the_last_epoch(
    capsys, tmp_path, digits_available, monkeypatch
):
    written = []  # the epochs done at each checkpoint write

    def recording_save_checkpoint(path, network, optimizer, history, *rest):
        written.append(history.epochs)
        return save_checkpoint(path, network, optimizer, history, *rest)

    monkeypatch.setattr("deltaprop.io.save_checkpoint", recording_save_checkpoint)
    checkpoint = tmp_path / "run.ckpt"
    train_digits(
        capsys, tmp_path, "--epochs", "5", "--checkpoint", checkpoint, "--checkpoint-every", "2"
    )
    assert written == [2, 4, 5]
    assert read_file(checkpoint)[0]["kind"] == "checkpoint"
