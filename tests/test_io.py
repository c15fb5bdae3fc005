"""Model files: save → load gives the same network, and every kind of bad file is refused."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest
from safetensors.numpy import save as safetensors_save

import deltaprop as dp
from deltaprop import io
from deltaprop.layers import Dense


def trained_network(dtype="float32") -> dp.Network:
    layers = [
        Dense(5, 7, activation="leaky_relu", dropout=0.2),
        Dense(7, 6, activation="tanh"),
        Dense(6, 4, activation="identity"),
        Dense(4, 3, activation="softmax"),
    ]
    net = dp.Network(layers, loss="cross_entropy", dtype=dtype, seed=4)
    rng = np.random.default_rng(0)
    net.fit(rng.normal(size=(40, 5)), rng.integers(0, 3, 40), epochs=2, optimizer="adam")
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_gives_identical_predictions(tmp_path, dtype):
    net = trained_network(dtype)
    path = tmp_path / "model.safetensors"
    net.save(path)
    loaded = dp.load(path)
    X = np.random.default_rng(1).normal(size=(9, 5))
    assert np.array_equal(net.forward(X), loaded.forward(X))
    assert loaded.dtype == net.dtype and loaded.sizes == net.sizes
    assert [layer.config() for layer in loaded.layers] == [layer.config() for layer in net.layers]
    assert loaded.loss == net.loss
    assert loaded.history.metrics == net.history.metrics


def test_regression_loss_and_activation_settings_survive(tmp_path):
    net = dp.Network(
        [Dense(3, 4, activation=dp.get_activation("elu")), Dense(4, 2, activation="identity")],
        loss=dp.get_loss("huber", delta=0.5),
        dtype="float64",
    )
    net.save(tmp_path / "r.safetensors")
    loaded = dp.load(tmp_path / "r.safetensors")
    assert loaded.loss == dp.get_loss("huber", delta=0.5)
    X = np.ones((2, 3))
    assert np.array_equal(net.forward(X), loaded.forward(X))


def test_tensor_names_are_pytorch_sequential_keys(tmp_path):
    net = trained_network()
    net.save(tmp_path / "m.safetensors")
    _, tensors = io.read_file(tmp_path / "m.safetensors")
    # leaky_relu, tanh and softmax take an index each; identity does not.
    expected = ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    assert sorted(tensors) == [*expected, "5.bias", "5.weight"]
    assert tensors["0.weight"].shape == (7, 5)


def test_writing_into_a_missing_directory_fails_clearly(tmp_path):
    with pytest.raises(dp.ModelFileError, match="does not exist"):
        trained_network().save(tmp_path / "missing" / "m.safetensors")


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"the user's precious file")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        trained_network().save(path)
    assert path.read_bytes() == b"the user's precious file"
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary file left behind


# ------------------------------------------------------------------ refusing bad files
def write_deltaprop_file(path, tensors, document, fix_hash=True):
    """A file laid out as deltaprop writes it, with whatever tensors and document we choose."""
    if fix_hash:
        document = {**document, "sha256": io.content_hash(tensors, document)}
    path.write_bytes(safetensors_save(tensors, metadata={"deltaprop": json.dumps(document)}))


def saved_parts(tmp_path):
    net = trained_network()
    net.save(tmp_path / "good.safetensors")
    document, tensors = io.read_file(tmp_path / "good.safetensors")
    return document, tensors


def refuse(path, match):
    with pytest.raises(dp.ModelFileError, match=match):
        dp.load(path)


def test_missing_file_and_directory(tmp_path):
    refuse(tmp_path / "nope.safetensors", "does not exist")
    refuse(tmp_path, "is a directory")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "only 0 bytes"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "header claims"),
        (struct.pack("<Q", 4) + b"\xff\xfe{}", "not JSON"),
        (struct.pack("<Q", 2) + b"[]", "not an object"),
    ],
    ids=["empty", "png", "binary-header", "list-header"],
)
def test_files_that_are_not_safetensors(tmp_path, content, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    refuse(path, match)


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(safetensors_save({"weight": np.ones((2, 2), np.float32)}))
    refuse(path, "not a deltaprop model")
    path.write_bytes(safetensors_save({"w": np.ones(2, np.float32)}, metadata={"format": "pt"}))
    refuse(path, "not a deltaprop model")


def test_newer_format_is_refused_with_upgrade_advice(tmp_path):
    document, tensors = saved_parts(tmp_path)
    write_deltaprop_file(tmp_path / "new.st", tensors, {**document, "format_version": 99})
    refuse(tmp_path / "new.st", "file format 99.*upgrade deltaprop")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"format": "other"}, "unknown format"),
        ({"format_version": "1"}, "invalid format_version"),
        ({"architecture": {"layers": []}}, "malformed architecture"),
    ],
)
def test_bad_documents(tmp_path, change, match):
    document, tensors = saved_parts(tmp_path)
    write_deltaprop_file(tmp_path / "bad.st", tensors, {**document, **change})
    refuse(tmp_path / "bad.st", match)


def test_unreadable_metadata(tmp_path):
    _, tensors = saved_parts(tmp_path)
    path = tmp_path / "bad.st"
    path.write_bytes(safetensors_save(tensors, metadata={"deltaprop": "{not json"}))
    refuse(path, "unreadable deltaprop metadata")


def test_invalid_architecture(tmp_path):
    document, tensors = saved_parts(tmp_path)
    document["architecture"]["layers"][0]["activation"] = "relu6"
    write_deltaprop_file(tmp_path / "bad.st", tensors, document)
    refuse(tmp_path / "bad.st", "invalid architecture.*relu6")


def test_tampered_tensor_bytes_are_detected(tmp_path):
    saved_parts(tmp_path)
    data = bytearray((tmp_path / "good.safetensors").read_bytes())
    data[-3] ^= 0x40  # one bit of the last tensor
    (tmp_path / "tampered.st").write_bytes(bytes(data))
    refuse(tmp_path / "tampered.st", "corrupt or was modified")


def test_tensor_replaced_without_updating_the_hash(tmp_path):
    document, tensors = saved_parts(tmp_path)
    tensors["0.weight"] = tensors["0.weight"] * 2
    write_deltaprop_file(tmp_path / "bad.st", tensors, document, fix_hash=False)
    refuse(tmp_path / "bad.st", "corrupt or was modified")


def test_description_edited_without_updating_the_hash(tmp_path):
    document, tensors = saved_parts(tmp_path)
    document["architecture"]["layers"][0]["activation"] = "tanh"  # valid, but not what was saved
    write_deltaprop_file(tmp_path / "bad.st", tensors, document, fix_hash=False)
    refuse(tmp_path / "bad.st", "corrupt or was modified")


def test_truncated_file(tmp_path):
    saved_parts(tmp_path)
    data = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "short.st").write_bytes(data[:-10])
    refuse(tmp_path / "short.st", "truncated or corrupt")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda t: t.pop("2.bias"), r"missing tensors \['2.bias'\]"),
        (lambda t: t.update({"9.weight": np.ones(2, np.float32)}), "unknown tensors"),
        (
            lambda t: t.update({"0.weight": np.ones((5, 7), np.float32)}),
            r"declares float32 \(7, 5\)",
        ),
        (lambda t: t.update({"0.bias": np.ones(7, np.float64)}), "is float64"),
        (lambda t: t.update({"0.bias": np.full(7, np.nan, np.float32)}), "NaN"),
        (lambda t: t.update({"0.bias": np.ones(7, np.float16)}), "unsupported dtype"),
    ],
    ids=["missing", "unknown", "shape", "dtype", "nan", "float16"],
)
def test_tensors_that_do_not_match_the_architecture(tmp_path, edit, match):
    document, tensors = saved_parts(tmp_path)
    edit(tensors)
    write_deltaprop_file(tmp_path / "bad.st", tensors, document)
    refuse(tmp_path / "bad.st", match)


def test_optimizer_tensors_are_only_allowed_in_checkpoints(tmp_path):
    document, tensors = saved_parts(tmp_path)
    tensors["optimizer.m.0"] = np.zeros((7, 5), np.float32)
    write_deltaprop_file(tmp_path / "bad.st", tensors, document)
    refuse(tmp_path / "bad.st", "unknown tensors")
    write_deltaprop_file(tmp_path / "ok.st", tensors, {**document, "kind": "checkpoint"})
    assert dp.load(tmp_path / "ok.st").sizes == [5, 7, 6, 4, 3]
