"""Every notebook in examples/ runs top to bottom in a real Jupyter kernel and shows what it
should; the committed files carry no outputs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook
from notebook_kernel import outputs, run_notebook

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(path.name for path in EXAMPLES.glob("*.ipynb"))
SVG = "{http://www.w3.org/2000/svg}"


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(EXAMPLES / name, as_version=4)


def test_every_notebook_is_checked():
    assert set(NOTEBOOKS) == set(CHECKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    notebook = read(name)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_runs_top_to_bottom(name, tmp_path):
    executed = run_notebook(read(name), tmp_path, timeout=300)
    shown = outputs(executed)
    assert not [output for output in shown if output.output_type == "error"]
    CHECKS[name](executed, shown)


def test_a_failing_cell_fails_the_run(tmp_path):
    broken = new_notebook(cells=[new_code_cell("raise ValueError('broken on purpose')")])
    with pytest.raises(CellExecutionError, match="broken on purpose"):
        run_notebook(broken, tmp_path)


def test_backpropagation_without_mnist_says_how_to_get_it_and_uses_the_digits(tmp_path):
    absent = new_code_cell(
        "import deltaprop.datasets\n"
        "def load_mnist(*args, **kwargs):  # what the loader raises where MNIST is not installed\n"
        "    raise deltaprop.datasets.DataNotFoundError('MNIST is not installed: run this')\n"
        "deltaprop.datasets.load_mnist = load_mnist"
    )
    notebook = read("backpropagation.ipynb")
    mnist = next(i for i, c in enumerate(notebook.cells) if "## MNIST" in c.source)
    imports = next(c for c in notebook.cells if "import deltaprop" in c.source)
    notebook.cells = [absent, imports, *notebook.cells[mnist:]]  # the MNIST section alone
    text = "".join(output.get("text", "") for output in outputs(run_notebook(notebook, tmp_path)))
    assert "MNIST is not installed: run this\nUsing scikit-learn's 8x8 digits instead." in text
    assert "1,437 training and 360 test images of 64 pixels" in text
    accuracy = re.search(r"'accuracy': ([0-9.]+)", text)
    assert accuracy and float(accuracy.group(1)) > 0.8


def check_backpropagation(executed: nbformat.NotebookNode, shown: list[dict]) -> None:
    html = [output.data["text/html"] for output in shown if "text/html" in output.get("data", {})]
    for page in html:
        ET.fromstring(page)  # well-formed
    trees = [ET.fromstring(page) for page in html]
    networks = [t for t in trees if (t.find("p").text or "").startswith("Network ")]
    histories = [t for t in trees if (t.find("p").text or "").startswith("History of ")]
    checks = [t for t in trees if (t.find("p").text or "").startswith("gradcheck")]
    # the 2-3-2 network: one node per unit; MNIST's 784 inputs are capped
    units = [[c for c in t.iter(f"{SVG}circle") if c.get("class") == "unit"] for t in networks]
    assert len(units[0]) == 7
    assert "784 units" in " ".join(networks[1].itertext())
    assert len(histories) == 2 and len(checks) == 1
    assert "PASS" in checks[0].find("p").text
    markdown = [o.data["text/markdown"] for o in shown if "text/markdown" in o.get("data", {})]
    assert len(markdown) == 1 and markdown[0].startswith("# Backpropagation, step by step")
    assert markdown[0].count("$$") >= 10
    images = [output for output in shown if "image/png" in output.get("data", {})]
    assert len(images) == 2  # the confusion matrix and the misclassified digits
    text = "".join(output.get("text", "") for output in shown)
    assert "classes: [0 1 1 0] expected: [0 1 1 0]" in text
    accuracy = re.search(r"'accuracy': ([0-9.]+)", text)
    assert accuracy and float(accuracy.group(1)) > 0.8


CHECKS = {"backpropagation.ipynb": check_backpropagation}
