"""The machine a benchmark ran on (CPU, vector width, BLAS kernel, versions) and its threads."""

from __future__ import annotations

import importlib.util
import os
import platform

THREADS = 2
VERSIONED = ("numba", "jax", "optax", "torch", "sklearn")


def installed(module: str) -> bool:
    """Whether ``module`` is installed (without importing it: imports cost memory and time)."""
    return importlib.util.find_spec(module) is not None


def limit_threads(threads: int = THREADS, torch: bool = True) -> dict:
    """Run on ``threads`` cores: BLAS threads, PyTorch's threads and, for XLA, the affinity.

    XLA sizes its thread pool by the CPUs this process may run on, so on a machine with more
    cores the process is pinned to the first ``threads`` of them (before JAX starts).
    """
    info = {"threads": threads}
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > threads:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:threads])
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(threads)
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        if blas:
            info["blas"] = (
                f"{blas[0]['internal_api']} {blas[0]['version']}, "
                f"kernel {blas[0].get('architecture')}, {blas[0]['num_threads']} thread(s)"
            )
    except ImportError:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
    if torch and installed("torch"):
        import torch

        torch.set_num_threads(threads)
    return info


def cpu_model() -> str:
    """The CPU's name, family and model, and its widest vector extension (from /proc/cpuinfo)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    flags = fields.get("flags", "").split()
    vectors = next((name for name in ("avx512f", "avx2", "avx") if name in flags), "no AVX")
    return (
        f"{fields.get('model name', platform.machine())} (family {fields.get('cpu family', '?')}, "
        f"model {fields.get('model', '?')}, {vectors.upper().replace('F', '')})"
    )


def describe() -> dict:
    import numpy as np

    import deltaprop as dp

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    versions["deltaprop"] = dp.__version__
    for module in VERSIONED:
        if installed(module):
            versions[module] = __import__(module).__version__
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "versions": versions,
        "openblas_env": {
            key: os.environ.get(key, "unset") for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        },
    }
