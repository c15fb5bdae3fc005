"""``deltaprop report``: one self-contained HTML page with every section."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import deltaprop as dp
from deltaprop.datasets import load_digits
from deltaprop.report import SECTIONS, build_report, write_report

SRC = str(Path(__file__).resolve().parents[1] / "src")


class Page(HTMLParser):
    """Collects every tag, every URL-bearing attribute and the section ids of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.sections: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data"):
                self.urls.append(value or "")
        if tag == "section":
            self.sections.append(dict(attrs)["id"])


def assert_self_contained(text: str) -> Page:
    page = Page(text)
    outside_images = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert not re.search(r"https?:|//[a-z]|url\(|@import", outside_images, re.IGNORECASE)
    assert not {"link", "script", "iframe", "object", "embed"} & set(page.tags)
    for url in page.urls:
        assert url.startswith("data:image/png;base64,"), url[:60]
        png = base64.b64decode(url.split(",", 1)[1])
        Image.open(io.BytesIO(png)).verify()
    return page


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def model_file(digits, tmp_path_factory):
    (X, y), _ = digits
    network = dp.Network.from_sizes([64, 16, 10], seed=0)
    network.fit(X, y, epochs=3, batch_size=32, optimizer=dp.SGD(lr=0.2), validation_split=0.2)
    path = tmp_path_factory.mktemp("model") / "digits.safetensors"
    network.save(path)
    return path


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "deltaprop", "report", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_report_is_self_contained_and_has_every_section(model_file, tmp_path):
    out = tmp_path / "report.html"
    result = run_cli(str(model_file), "--data", "digits", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stderr
    text = out.read_text(encoding="utf-8")
    page = assert_self_contained(text)
    assert page.sections == list(SECTIONS)
    for heading in ("Architecture", "Training history", "Evaluation", "Misclassified examples"):
        assert f"<h2>{heading}</h2>" in text
    assert "Sizes 64-16-10, loss <code>cross_entropy</code>" in text
    assert "360 samples of digits, test split" in text
    # Curves, gradient flow, first-layer weights (8x8 inputs), confusion matrix, misclassified.
    assert len(page.urls) == 5
    per_class = re.search(r"<h3>Per class</h3>\n<table>(.*?)</table>", text, re.DOTALL).group(1)
    assert per_class.count("<tr>") == 11  # header and ten classes
    # The history saved in the model file: three epochs with validation columns.
    assert "<th>val_accuracy</th>" in text
    assert "<p>3 epochs.</p>" in text


def test_default_output_is_next_to_the_model(model_file, tmp_path):
    copy = tmp_path / "net.safetensors"
    copy.write_bytes(model_file.read_bytes())
    result = run_cli(str(copy), "--data", "digits", "--limit", "50")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "net.html").read_text(encoding="utf-8")
    assert "50 samples of digits, test split" in text


def test_without_data_the_evaluation_sections_say_so(model_file):
    network = dp.load(model_file)
    assert network.history is not None and network.history.epochs == 3
    text = build_report(network)
    page = assert_self_contained(text)
    assert page.sections == list(SECTIONS)
    assert text.count("No data was given, so nothing was evaluated.") == 2


def test_untrained_network_has_no_history_section_images(digits, tmp_path):
    (X, y), _ = digits
    network = dp.Network.from_sizes([64, 10], seed=1)
    path = write_report(network, tmp_path / "r.html", X[:100], y[:100], title="<untrained>")
    text = path.read_text(encoding="utf-8")
    assert_self_contained(text)
    assert "This model holds no training history." in text
    assert "<title>&lt;untrained&gt;</title>" in text  # text is escaped


def test_regressor_report(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(100, 1))
    y = X[:, 0] ** 2
    network = dp.Network.from_sizes([1, 8, 1], hidden="tanh", output="identity", loss="mse")
    network.fit(X, y, epochs=2, batch_size=20, optimizer=dp.Adam(lr=0.01))
    text = build_report(network, X, y)
    page = assert_self_contained(text)
    assert page.sections == list(SECTIONS)
    assert "A regressor has no classes to confuse." in text


def test_bad_arguments(model_file, tmp_path):
    limit = run_cli(str(model_file), "--data", "digits", "--limit", "0")
    assert limit.returncode == 2 and "--limit must be at least 1" in limit.stderr
    missing = run_cli(str(tmp_path / "none.safetensors"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    with pytest.raises(dp.ValidationError, match="784 features per row"):
        build_report(dp.load(model_file), np.zeros((5, 784)), np.zeros(5, dtype=int))
