"""The playground end to end: `deltaprop playground` driven in Debian's Chromium by Playwright.

Screenshots of the main states go to out/playground/ (gitignored). Without Chromium these tests
skip with the command that installs it; in CI (CI=true) they fail instead.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.playground.datasets import make_dataset
from deltaprop.playground.features import input_features

CHROMIUM = shutil.which("chromium")
SHOTS = Path(__file__).resolve().parent.parent / "out" / "playground"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs Chromium for the browser tests: apt-get install -y chromium")
    pytest.skip("needs Chromium: sudo apt-get install -y chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")


@pytest.fixture(scope="module")
def server():
    """`deltaprop playground --no-browser`; yields its URL (the first line it prints)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "deltaprop", "playground", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and "?token=" in url, process.stderr.read()
    yield url
    process.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
    assert process.wait(20) == 0, process.stderr.read()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(server)
    page.wait_for_selector("[data-testid=unit-1-1]")
    until(page, "document.getElementById('loss-test').textContent !== '–'")
    yield page
    assert page.errors == []
    context.close()


def until(page, condition, timeout=20.0):
    """Wait for the JavaScript expression ``condition`` to be true (polled through the DevTools
    protocol: the page's Content-Security-Policy forbids the eval of wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({condition})"):
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        time.sleep(0.05)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def number(page, testid):
    return float(page.get_by_test_id(testid).text_content())


def export(page, tmp_path, name):
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    path = tmp_path / name
    download.value.save_as(path)
    return dp.load(path)


def wait_steps(page, at_least):
    until(page, f"Number(document.getElementById('steps').textContent) >= {at_least}")


def test_circle_trains_below_a_bound_and_pauses_without_console_errors(page):
    page.get_by_test_id("remove-layer").click()  # one hidden layer of 4
    page.wait_for_selector("[data-testid=unit-2-1]", state="detached")
    page.get_by_test_id("play").click()
    until(page, "Number(document.getElementById('epoch').textContent) >= 150", timeout=60)
    page.keyboard.press("Space")  # space = pause, also with the focus on the play button
    until(page, "document.getElementById('play').getAttribute('aria-label') == 'Play'")
    paused = number(page, "epoch")
    page.wait_for_timeout(400)
    assert number(page, "epoch") == paused
    assert number(page, "loss-test") < 0.15  # about 0.115 at epoch 150
    assert page.evaluate("document.documentElement.scrollHeight") <= 800
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    steps = int(page.get_by_test_id("steps").text_content())
    page.keyboard.press("s")  # s = step
    wait_steps(page, steps + 1)
    page.get_by_test_id("output-map").click(position={"x": 232, "y": 110})
    page.get_by_test_id("unit-1-2").click()
    until(page, "document.querySelectorAll('#checks td.analytic').length === 3")
    shot(page, "trained")


def test_a_unit_shows_network_gradients_of_the_picked_sample(page, tmp_path):
    page.get_by_test_id("train-epoch").click()
    wait_steps(page, 25)
    page.get_by_test_id("output-map").click(position={"x": 150, "y": 150})  # the plane's centre
    page.get_by_test_id("unit-1-3").click()
    info = page.get_by_test_id("sample-info")
    until(page, "document.getElementById('sample-info').dataset.index !== undefined")
    net = export(page, tmp_path, "now.safetensors")
    data = make_dataset("circle")
    part, index = info.get_attribute("data-part"), int(info.get_attribute("data-index"))
    x = input_features(getattr(data, f"x_{part}"), ["x1", "x2"])[index]
    y = getattr(data, f"y_{part}")[index]
    _, gradients = net.gradients(x[None, :], np.array([y]))
    cells = page.locator("[data-testid=checks] td.analytic")
    shown = [float(text) for text in cells.all_text_contents()]
    np.testing.assert_allclose(shown[:-1], gradients[0][0][2], rtol=1e-5)
    np.testing.assert_allclose(shown[-1], gradients[0][1][2], rtol=1e-5)
    assert "z^{1}_{3}" in page.locator("[data-testid=equations] .line").first.get_attribute(
        "data-tex"
    )
    shot(page, "equations")
    page.get_by_test_id("step-through").click()
    until(page, "document.getElementById('phase').dataset.kind === 'backward'")
    shot(page, "step-through")
    until(page, "document.getElementById('phase').dataset.kind === 'update'")
    labels = page.locator("#links .link-label")
    assert labels.count() == 2 and " → " in labels.first.text_content()  # into unit 3 of layer 1
    shot(page, "step-through-update")
    until(page, "document.getElementById('phase').textContent === 'Step done'")


def test_a_step_changes_the_weights_by_minus_lr_times_the_gradient(page, tmp_path):
    page.get_by_test_id("learning-rate").select_option("0.3")
    page.get_by_test_id("batch-size").fill("1000")  # the whole training set: one known batch
    page.get_by_test_id("batch-size").dispatch_event("change")
    until(page, "location.hash.includes('%22batch_size%22%3A1000')")
    before = export(page, tmp_path, "before.safetensors")
    page.get_by_test_id("step").click()
    wait_steps(page, 1)
    after = export(page, tmp_path, "after.safetensors")
    data = make_dataset("circle")
    _, gradients = before.gradients(input_features(data.x_train, ["x1", "x2"]), data.y_train)
    for old, new, (grad_w, grad_b) in zip(before.layers, after.layers, gradients):
        np.testing.assert_allclose(new.weights, old.weights - 0.3 * grad_w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(new.bias, old.bias - 0.3 * grad_b, rtol=1e-5, atol=1e-6)
    predictions = after.predict(input_features(data.x_test, ["x1", "x2"]))
    assert predictions.shape == (len(data.x_test),)


def test_a_state_that_arrives_while_typing_keeps_the_typed_value(page):
    page.get_by_test_id("batch-size").fill("500")  # typed, not yet committed with Enter or Tab
    # A change made just before (a click elsewhere would commit the typing) gets its state now.
    page.evaluate(
        "() => { const rate = document.getElementById('learning-rate');"
        " rate.value = '0.3'; rate.dispatchEvent(new Event('change')); }"
    )
    until(page, "location.hash.includes('%22lr%22%3A0.3')")
    assert page.get_by_test_id("batch-size").input_value() == "500"
    page.get_by_test_id("batch-size").blur()
    until(page, "location.hash.includes('%22batch_size%22%3A500')")


def test_a_bad_csv_says_what_is_wrong_and_a_good_one_trains(page):
    upload = page.get_by_test_id("csv-upload")
    message = page.get_by_test_id("upload-message")
    bad = b"a,b,label\n" + b"1,2,0\n" * 5 + b"1,oops,1\n" * 10
    upload.set_input_files(files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad}])
    until(page, "document.getElementById('upload-message').classList.contains('error')")
    assert "column 'b' holds 'oops', not a number" in message.text_content()
    rows = [f"{i % 9 - 4},{i % 5 - 2},{int((i % 9 - 4) * (i % 5 - 2) > 0)}" for i in range(60)]
    good = ("u,v,label\n" + "\n".join(rows) + "\n").encode()
    upload.set_input_files(files=[{"name": "good.csv", "mimeType": "text/csv", "buffer": good}])
    until(page, "document.getElementById('upload-message').textContent == 'loaded good.csv'")
    assert page.get_by_test_id("dataset").input_value() == "csv"
    page.get_by_test_id("train-epoch").click()
    wait_steps(page, 3)
    shot(page, "upload")


def test_the_url_reopens_the_same_configuration(page, browser):
    page.get_by_test_id("dataset").select_option("xor")
    until(page, "location.hash.includes('xor')")
    page.get_by_test_id("activation").select_option("relu")
    page.get_by_test_id("learning-rate").select_option("0.1")
    page.get_by_test_id("add-layer").click()
    page.wait_for_selector("[data-testid=unit-3-1]")
    page.get_by_test_id("feature-x1*x2").check()
    until(page, "location.hash.includes('x1*x2') || location.hash.includes('x1%2Ax2')")
    url = page.url
    other = browser.new_page(viewport={"width": 1280, "height": 800})
    other.goto(url)
    other.wait_for_selector("[data-testid=unit-3-1]")
    assert other.get_by_test_id("dataset").input_value() == "xor"
    assert other.get_by_test_id("activation").input_value() == "relu"
    assert float(other.get_by_test_id("learning-rate").input_value()) == 0.1
    assert other.get_by_test_id("feature-x1*x2").is_checked()
    other.get_by_test_id("snippet").click()
    other.get_by_test_id("snippet-dialog").wait_for()
    snippet = other.get_by_test_id("snippet-text").text_content()
    assert "make_dataset('xor'" in snippet and "hidden='relu'" in snippet
    other.close()


def test_a_diverging_run_stops_and_says_so(page):
    page.get_by_test_id("dataset").select_option("plane")
    until(page, "document.getElementById('loss').value === 'mse'")
    page.get_by_test_id("learning-rate").select_option("10")
    until(page, "location.hash.includes('%22lr%22%3A10')")
    page.get_by_test_id("play").click()
    until(page, "document.getElementById('status').textContent.includes('diverged')", timeout=30)
    until(page, "document.getElementById('play').getAttribute('aria-label') === 'Play'")
    assert "Lower the learning rate" in page.get_by_test_id("status").text_content()
    assert number(page, "steps") > 0  # the counters show where it stopped
    shot(page, "diverged")


def test_exporting_an_overflowed_network_says_why_in_the_status_line(page, server):
    overflowing = {"dataset": "plane", "loss": "mse", "optimizer": "nesterov", "lr": 10}
    overflowing |= {"hidden": [8, 8, 8], "activation": "relu", "batch_size": 1, "seed": 1}
    page.goto(f"{server}#config={urllib.parse.quote(json.dumps(overflowing))}")
    page.reload()  # the page reads the linked configuration when it loads
    until(page, "document.getElementById('optimizer').value === 'nesterov'")
    until(page, "document.getElementById('loss-test').textContent !== '–'")
    for _ in range(3):
        page.get_by_test_id("step").click()
    until(page, "document.getElementById('status').textContent.includes('overflowed')")
    page.get_by_test_id("export").click()
    until(page, "document.getElementById('status').textContent.includes('cannot be exported')")
    # Chromium logs the refused request (409) as a console error: that one is expected
    page.errors[:] = [text for text in page.errors if "409" not in text]
