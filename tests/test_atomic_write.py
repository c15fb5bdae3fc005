"""``io.atomic_write_bytes`` gives files the permissions a plain ``open`` would, and removes
the temporary files that killed saves to the same place left behind."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

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


def test_a_save_removes_the_temporary_files_of_killed_saves_to_the_same_place(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **TEXT)
    dead = int(finished.stdout)  # a process that has ended, as a killed save's has
    path = tmp_path / "model.safetensors"
    leftovers = [f".model.safetensors.{dead}.k2j4x9_q.tmp", ".model.safetensors.a8zq3_xy.tmp"]
    running = f".model.safetensors.{os.getpid()}.inprogr5.tmp"  # a save still being written
    # not names that a save makes: the user's own files stay
    unrelated = [".other.safetensors.1.tmp", "model.safetensors.tmp"]
    unrelated += [".model.safetensors.backup.tmp", ".model.safetensors.1.tmp"]
    unrelated += [".model.safetensors.My_Notes.tmp"]
    for name in [*leftovers, running, *unrelated]:
        (tmp_path / name).write_bytes(b"partial")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["model.safetensors", running, *unrelated]
    )


TEXT = {"capture_output": True, "text": True, "check": True}
