"""No file deltaprop reads can execute code: no pickle anywhere in the code that ships or runs.

The check parses every Python file of the package (and of examples/ and benchmarks/) and
refuses: importing pickle or a relative of it, calling ``eval``/``exec``, ``torch.load``, and
any ``np.load``/``numpy.load`` without ``allow_pickle=False``. The tests may write pickles, to
prove that the readers refuse them, so they are not scanned.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["src/deltaprop", "examples", "benchmarks"]
UNSAFE_MODULES = {
    "pickle",
    "_pickle",
    "cPickle",
    "dill",
    "cloudpickle",
    "joblib",
    "shelve",
    "marshal",
}
NUMPY_NAMES = {"np", "numpy"}


def python_files() -> list[Path]:
    files = []
    for folder in SCANNED:
        if (ROOT / folder).is_dir():
            files += sorted((ROOT / folder).rglob("*.py"))
    return files


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def problems(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in UNSAFE_MODULES:
                found.append(f"from {node.module} import")
        elif isinstance(node, ast.Call):
            name = dotted(node.func)
            if name in ("eval", "exec", "torch.load"):
                found.append(f"{name}() on line {node.lineno}")
            elif name.split(".")[0] in NUMPY_NAMES and name.endswith(".load"):
                safe = any(
                    k.arg == "allow_pickle"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is False
                    for k in node.keywords
                )
                if not safe:
                    found.append(f"{name}() without allow_pickle=False on line {node.lineno}")
    return found


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_that_can_unpickle(path):
    assert problems(ast.parse(path.read_text(), filename=str(path))) == []


def test_the_scan_finds_what_it_looks_for():
    unsafe = "import pickle\nimport numpy as np\nnp.load('x.npy')\neval('1')\n"
    assert len(problems(ast.parse(unsafe))) == 3
    assert problems(ast.parse("import numpy as np\nnp.load('x', allow_pickle=False)")) == []
    assert len(python_files()) > 10
