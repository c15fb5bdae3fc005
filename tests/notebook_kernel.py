"""Run a notebook top to bottom in a real Jupyter kernel of this test run's Python.

The kernel spec, the connection file and IPython's and Jupyter's own directories all live in a
temporary directory: nothing is registered on the machine, and no user's Jupyter settings or
kernels are read. The kernel imports deltaprop from this checkout's ``src``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

SRC = Path(__file__).resolve().parents[1] / "src"
KERNEL = "deltaprop-tests"


def run_notebook(
    notebook: nbformat.NotebookNode, directory: Path, timeout: int = 300
) -> nbformat.NotebookNode:
    """Execute every cell of ``notebook`` with ``directory`` as the working directory and home
    of the kernel's files; return the notebook with its outputs. A failing cell raises
    ``nbclient.exceptions.CellExecutionError`` naming the cell and the error."""
    kernels = directory / "jupyter" / "kernels"
    (kernels / KERNEL).mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "deltaprop tests",
        "language": "python",
    }
    (kernels / KERNEL / "kernel.json").write_text(json.dumps(spec))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        "IPYTHONDIR": str(directory / "ipython"),
        "JUPYTER_CONFIG_DIR": str(directory / "jupyter" / "config"),
        "JUPYTER_DATA_DIR": str(directory / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(directory / "jupyter" / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    manager = AsyncKernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
        connection_file=str(directory / "jupyter" / "connection.json"),
        transport="ipc",  # Unix sockets in ``directory``, not TCP ports on the machine
        ip=str(directory / "jupyter" / "kernel"),
    )
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=timeout,
        resources={"metadata": {"path": str(directory)}},
    )
    return client.execute(env=env)


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    """Every output of every code cell, in order."""
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
