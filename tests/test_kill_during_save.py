"""``kill -9`` at any moment of a save leaves the old model file or the new one, never a broken one.

A writer process forks children that save two different networks, alternately, to the same
path as fast as they can; after a delay that moves across the save's duration, the writer
kills the child with SIGKILL and tells the test, which checks the directory: the target loads
and equals one of the two networks bit for bit, and anything else there is a hidden temporary
file (``.<name>.<random>.tmp``) that no ``*.safetensors`` pattern picks up and that never loads
as a model other than the two. Rounds continue past 30 until at least 5 kills have landed while
a temporary file was being written (it is left behind), so the critical window is exercised.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import deltaprop as dp

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
SIZES = [600, 600, 10]  # 1.4 MB files: a save takes a few milliseconds
SEEDS = (1, 2)

WRITER = """
import os, signal, sys, time
import deltaprop as dp

target, sizes, seeds = sys.argv[1], eval(sys.argv[2]), eval(sys.argv[3])
networks = [dp.Network.from_sizes(sizes, seed=seed) for seed in seeds]
started = time.perf_counter()
networks[1].save(target + ".timing")
print(f"ready {time.perf_counter() - started}", flush=True)
os.unlink(target + ".timing")
for line in sys.stdin:
    child = os.fork()
    if child == 0:  # save B, A, B, A, ... until killed
        index = 1
        while True:
            networks[index % 2].save(target)
            index += 1
    time.sleep(float(line))
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    print("killed", flush=True)
"""


def parameters(network: dp.Network) -> list[np.ndarray]:
    return [p.copy() for p in network.parameters()]


def which(network: dp.Network, candidates: dict[str, list[np.ndarray]]) -> str | None:
    for name, expected in candidates.items():
        if all(np.array_equal(a, b) for a, b in zip(network.parameters(), expected, strict=True)):
            return name
    return None


def check_temporary(path: Path, target: Path, candidates) -> None:
    assert path.name.startswith(f".{target.name}.") and path.name.endswith(".tmp"), path
    assert not path.match("*.safetensors")
    try:
        complete = dp.load(path)  # written in full but not yet renamed when the kill came
    except dp.ModelFileError:
        return
    assert which(complete, candidates) is not None


def test_sigkill_during_save_leaves_the_old_or_the_new_file(tmp_path):
    target = tmp_path / "model.safetensors"
    old, new = (dp.Network.from_sizes(SIZES, seed=seed) for seed in SEEDS)
    candidates = {"old": parameters(old), "new": parameters(new)}
    old.save(target)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), repr(SIZES), repr(SEEDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        first = writer.stdout.readline().split()
        assert first[0] == "ready", first
        save_seconds = float(first[1])
        rounds, mid_write, seen = 0, 0, set()
        while rounds < 30 or (mid_write < 5 and rounds < 150):
            # 30 delays spread over three saves, visited in a scattered order
            delay = ((rounds * 7) % 30 + 0.5) / 30 * 3 * save_seconds
            writer.stdin.write(f"{delay}\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "killed"
            rounds += 1
            found = which(dp.load(target), candidates)
            assert found is not None, f"round {rounds}: {target} holds neither network"
            seen.add(found)
            others = [p for p in tmp_path.iterdir() if p != target]
            for path in others:
                check_temporary(path, target, candidates)
                path.unlink()
            mid_write += bool(others)
            assert sorted(tmp_path.glob("*.safetensors")) == [target]
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)
    assert mid_write >= 1, f"no kill in {rounds} rounds landed while a file was being written"
    print(f"{rounds} kills, {mid_write} mid-write, target held {sorted(seen)}")
