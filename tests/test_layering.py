"""The modules below the fit loop never import it: the fit loop, MPI and the engines form layers.

Read from the source (every ``from .x import y``, also inside functions, but not the ones under
``if TYPE_CHECKING``), so that an import added anywhere shows up here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import deltaprop

PACKAGE = Path(deltaprop.__file__).resolve().parent


def imports(module: str) -> set[str]:
    """The deltaprop modules ``module`` (e.g. "distributed") imports at run time."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    hidden = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and id(node) not in hidden:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
    return found


def reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for name in imports(todo.pop()):
            if name not in seen and (PACKAGE / f"{name}.py").exists():
                seen.add(name)
                todo.append(name)
    return seen


@pytest.mark.parametrize(
    "module",
    ["distributed", "stopping", "history", "parameters", "workspace", "engines", "compiled",
     "kernels", "optimizers"],
)  # fmt: skip
def test_the_layers_below_the_fit_loop_reach_neither_it_nor_the_network(module):
    below = reachable(module)
    assert "training" not in below and "network" not in below and module not in below


def test_the_compiled_engine_is_imported_only_by_the_network_on_demand():
    users = {path.stem for path in PACKAGE.glob("*.py") if "compiled" in imports(path.stem)}
    assert users == {"network"}
