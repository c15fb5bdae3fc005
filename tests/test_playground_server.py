"""The playground server: the token, Host and Origin checks, the WebSocket protocol, 20 tabs."""

import asyncio
import json
import socket
import threading
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="pip install 'deltaprop[playground]'")

import uvicorn
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import connect

import deltaprop as dp
from deltaprop.playground.server import create_app

TOKEN = "t0ken-for-tests"
HOST = "testserver"  # the Host header TestClient sends


@pytest.fixture
def client():
    return TestClient(create_app(TOKEN, {HOST}))


def receive_until(websocket, kind):
    """Messages up to and including the first of type ``kind``."""
    seen = []
    while True:
        message = json.loads(websocket.receive_text())
        seen.append(message)
        if message["type"] == kind:
            return seen


def test_the_page_needs_the_token_and_this_servers_host(client):
    assert client.get(f"/?token={TOKEN}").status_code == 200
    page = client.get(f"/?token={TOKEN}")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    rebinding = client.get(f"/?token={TOKEN}", headers={"host": "evil.example:8000"})
    assert rebinding.status_code == 403 and "unknown Host" in rebinding.text
    assert client.get(f"/api/export?token={TOKEN}&session=nope").status_code == 404
    assert client.get("/api/export?session=nope").status_code == 403
    assert client.get("/static/app.js").status_code == 200  # code only, no data
    rebound = client.get("/static/app.js", headers={"host": "evil.example:8000"})
    assert rebound.status_code == 403 and "unknown Host" in rebound.text


def test_the_websocket_refuses_a_foreign_origin_or_a_missing_token(client):
    for url, headers in [
        (f"/ws?token={TOKEN}", {"origin": "http://evil.example"}),
        ("/ws?token=wrong", {}),
        (f"/ws?token={TOKEN}", {"host": "127.0.0.1.evil.example"}),
    ]:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(url, headers=headers),
        ):
            pass
        assert refused.value.code == 1008


def test_a_tab_trains_explains_exports_and_is_freed_on_close(client, tmp_path):
    app = client.app
    with client.websocket_connect(f"/ws?token={TOKEN}", headers={"origin": f"http://{HOST}"}) as ws:
        hello = json.loads(ws.receive_text())
        assert hello["type"] == "hello" and list(app.state.tabs) == [hello["session"]]
        receive_until(ws, "update")
        ws.send_text(json.dumps({"type": "step"}))
        assert receive_until(ws, "update")[-1]["step"] == 1
        ws.send_text(json.dumps({"type": "nonsense"}))
        error = receive_until(ws, "error")[-1]
        assert "unknown message type" in error["message"]
        receive_until(ws, "update")  # then the state again, so the page shows the real one
        ws.send_text(json.dumps({"type": "configure", "config": {"hidden": [3], "lr": 0.1}}))
        state = receive_until(ws, "state")[-1]
        assert state["sizes"] == [2, 3, 1]
        ws.send_text(json.dumps({"type": "explain", "layer": 1, "unit": 3}))
        equations = receive_until(ws, "equations")[-1]
        assert equations["layer"] == 1 and len(equations["checks"]) == 3
        ws.send_text(json.dumps({"type": "upload", "name": "x.csv", "text": "a,b,label\n1,x,0\n"}))
        assert "x.csv has 1 data rows" in receive_until(ws, "upload_error")[-1]["message"]
        ws.send_text(json.dumps({"type": "play"}))
        while True:  # the first update acknowledges play; the next ones come from training
            message = json.loads(ws.receive_text())
            if message["type"] == "update" and message["step"] > 0:
                assert message["playing"]
                break
        ws.send_text(json.dumps({"type": "pause"}))
        while True:
            message = json.loads(ws.receive_text())
            if message["type"] == "update" and not message["playing"]:
                break
        response = client.get(f"/api/export?token={TOKEN}&session={hello['session']}")
        path = tmp_path / "m.safetensors"
        path.write_bytes(response.content)
        net = dp.load(path)
        weights = app.state.tabs[hello["session"]].session.network.layers[0].weights
        np.testing.assert_array_equal(net.layers[0].weights, weights)
    time.sleep(0.2)
    assert app.state.tabs == {}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_server():
    """The app on uvicorn on loopback, in a thread; yields (port, app)."""
    port = free_port()
    app = create_app(TOKEN, {f"127.0.0.1:{port}"})
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield port, app
    server.should_exit = True
    thread.join(10)


def test_twenty_tabs_train_at_once_each_on_its_own_session(live_server):
    port, app = live_server
    url = f"ws://127.0.0.1:{port}/ws?token={TOKEN}"

    async def tab(index):
        async with connect(url, origin=f"http://127.0.0.1:{port}", max_size=None) as ws:
            await ws.send(json.dumps({"type": "configure", "config": {"seed": index}}))
            await ws.send(json.dumps({"type": "play"}))
            steps, ended = [], time.monotonic() + 4
            while time.monotonic() < ended:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message["type"] == "update" and message["playing"]:
                    steps.append(message["step"])
            await ws.send(json.dumps({"type": "pause"}))
            return steps

    async def all_tabs():
        return await asyncio.gather(*(tab(index) for index in range(20)))

    results = asyncio.run(all_tabs())
    for steps in results:
        assert len(steps) >= 2 and steps == sorted(steps) and steps[-1] > steps[0]
    deadline = time.monotonic() + 10
    while app.state.tabs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.state.tabs == {}  # closing every tab freed every session


def test_a_binary_frame_ends_the_tab_and_frees_its_session(client):
    with client.websocket_connect(f"/ws?token={TOKEN}") as ws:
        receive_until(ws, "update")
        assert len(client.app.state.tabs) == 1
        ws.send_bytes(b"\x00\x01")
        deadline = time.monotonic() + 10
        while client.app.state.tabs and time.monotonic() < deadline:
            time.sleep(0.05)
    assert client.app.state.tabs == {}


def test_the_command_refuses_a_bad_port_with_usage_status():
    from deltaprop.cli import main

    assert main(["playground", "--port", "70000", "--no-browser"]) == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_update_that_overflows_says_diverged_keeps_the_tab_and_refuses_export(client):
    overflowing = {"dataset": "plane", "loss": "mse", "optimizer": "nesterov", "lr": 10}
    overflowing |= {"hidden": [8, 8, 8], "activation": "relu", "batch_size": 1, "seed": 1}
    with client.websocket_connect(f"/ws?token={TOKEN}") as ws:
        hello = receive_until(ws, "update")[0]
        ws.send_text(json.dumps({"type": "configure", "config": overflowing}))
        receive_until(ws, "update")
        for _ in range(3):
            ws.send_text(json.dumps({"type": "step"}))
        diverged = receive_until(ws, "diverged")[-1]
        assert "overflowed the parameters" in diverged["message"]
        assert "press reset" in diverged["message"]
        export = client.get(f"/api/export?token={TOKEN}&session={hello['session']}")
        assert export.status_code == 409 and "cannot be exported: press reset" in export.text
        assert "\n" not in export.text and "/tmp" not in export.text
        ws.send_text(json.dumps({"type": "play"}))  # the tab still answers, with the message
        assert "press reset" in receive_until(ws, "update")[-1]["message"]
        ws.send_text(json.dumps({"type": "reset"}))
        receive_until(ws, "state")
        assert receive_until(ws, "update")[-1]["message"] == ""


def test_a_non_ascii_token_is_refused_not_an_error(client):
    refused = client.get("/?token=%C3%A9")
    assert refused.status_code == 403 and "wrong token" in refused.text
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws?token=%C3%A9"):
        pass
    assert closed.value.code == 1008


def test_a_malformed_origin_is_a_foreign_one(client):
    refused = client.get(f"/api/export?token={TOKEN}&session=x", headers={"origin": "http://["})
    assert refused.status_code == 403 and "foreign Origin" in refused.text
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/ws?token={TOKEN}", headers={"origin": "http://["}),
    ):
        pass
    assert closed.value.code == 1008


def test_a_bad_host_names_host_and_a_taken_port_names_port():
    from deltaprop.playground.server import serve

    with pytest.raises(OSError, match=r"cannot listen on 256\.1\.1\.1:0") as bad_host:
        serve("256.1.1.1", 0, open_browser=False)
    assert "--host" in str(bad_host.value) and "--port" not in str(bad_host.value)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="choose another --port"):
            serve("127.0.0.1", port, open_browser=False)


def test_messages_sent_while_the_session_is_busy_wait_in_a_bounded_inbox(client):
    from deltaprop.playground.server import INBOX_SIZE

    with client.websocket_connect(f"/ws?token={TOKEN}") as ws:
        tab = client.app.state.tabs[receive_until(ws, "update")[0]["session"]]
        with tab.lock:  # the session is busy: nothing is answered meanwhile
            for _ in range(5 * INBOX_SIZE):
                ws.send_text(json.dumps({"type": "snippet"}))
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                assert tab.inbox.qsize() <= INBOX_SIZE
                time.sleep(0.01)
        for _ in range(5 * INBOX_SIZE):  # none was dropped
            assert receive_until(ws, "snippet")[-1]["text"]
