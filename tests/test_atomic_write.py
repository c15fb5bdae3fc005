"""``io.atomic_write_bytes`` gives files the permissions a plain ``open`` would."""

from __future__ import annotations

import os
import stat

import pytest

from deltaprop.io import atomic_write_bytes


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_new_file_gets_the_umask_mode_not_mkstemps_private_mode(tmp_path, umask_022):
    path = tmp_path / "report.html"
    atomic_write_bytes(path, b"<html></html>")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_bytes() == b"<html></html>"


def test_replaced_file_keeps_its_mode(tmp_path, umask_022):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old")
    path.chmod(0o640)
    atomic_write_bytes(path, b"new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
