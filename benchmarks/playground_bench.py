"""Measure the playground server: update rate, step latency and memory per session.

    python benchmarks/playground_bench.py            # prints one line per measurement

One tab plays for 5 s (updates per second it receives, training steps per second); 50 single
steps each wait for their update (median and 95th-percentile latency); 20 tabs open at once
(the server's RSS before and after, and tracemalloc's peak for building one Session), then all
20 play for 5 s (updates per second each receives). The server runs in this process on
127.0.0.1, as ``deltaprop playground`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import platform
import resource
import socket
import statistics
import threading
import time
import tracemalloc

import uvicorn
from websockets.asyncio.client import connect

from deltaprop.playground.server import create_app
from deltaprop.playground.session import Session

TOKEN = "benchmark"


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(TOKEN, {f"127.0.0.1:{port}"})
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, app, f"ws://127.0.0.1:{port}/ws?token={TOKEN}"


async def until(ws, predicate):
    while True:
        message = json.loads(await ws.recv())
        if predicate(message):
            return message


async def measure(url: str, app) -> None:
    async with connect(url, max_size=None) as ws:
        await until(ws, lambda m: m["type"] == "update")
        await ws.send(json.dumps({"type": "play"}))
        await until(ws, lambda m: m["type"] == "update")
        started, updates, first = time.perf_counter(), 0, None
        while time.perf_counter() - started < 5:
            message = await until(ws, lambda m: m["type"] == "update")
            first = message["step"] if first is None else first
            updates, last = updates + 1, message["step"]
        took = time.perf_counter() - started
        print(
            f"one tab playing: {updates / took:.1f} updates/s, {(last - first) / took:,.0f} steps/s"
        )
        await ws.send(json.dumps({"type": "pause"}))
        await until(ws, lambda m: m["type"] == "update" and not m["playing"])
        latencies = []
        for _ in range(50):
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "step"}))
            await until(ws, lambda m: m["type"] == "update")
            latencies.append(time.perf_counter() - sent)
        latencies.sort()
        print(
            f"step latency (message to its update): median {statistics.median(latencies) * 1e3:.1f}"
            f" ms, 95th percentile {latencies[int(0.95 * len(latencies))] * 1e3:.1f} ms"
        )
    before = rss_mib()
    sockets = [await connect(url, max_size=None) for _ in range(20)]
    for ws in sockets:
        await until(ws, lambda m: m["type"] == "update")
    after = rss_mib()
    print(
        f"20 open tabs: RSS {before:.0f} -> {after:.0f} MiB, {(after - before) / 20:.2f} MiB each"
    )

    async def play(ws) -> int:
        await ws.send(json.dumps({"type": "play"}))
        count, ended = 0, time.perf_counter() + 5
        while time.perf_counter() < ended:
            message = json.loads(await ws.recv())
            count += message["type"] == "update" and message["playing"]
        await ws.send(json.dumps({"type": "pause"}))
        return count

    counts = await asyncio.gather(*(play(ws) for ws in sockets))
    print(
        f"20 tabs playing at once: {sum(counts) / 5:.0f} updates/s in all, "
        f"{min(counts) / 5:.1f} to {max(counts) / 5:.1f} per tab"
    )
    for ws in sockets:
        await ws.close()


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {cpu_model()}")
    tracemalloc.start()
    Session().update()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"one Session with its first update: tracemalloc peak {peak / 2**20:.2f} MiB")
    server, app, url = start_server()
    asyncio.run(measure(url, app))
    server.should_exit = True


def cpu_model() -> str:
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
