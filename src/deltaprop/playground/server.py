"""The playground's web server: the page, a WebSocket per tab, the model-file download.

Safe by default: the Host header of every request must name this server (so a foreign site
that rebinds its DNS name to 127.0.0.1 is refused); the page, the WebSocket and the download need
the random token the URL carries (``?token=``), and their Origin, when a browser sends one, must
be this server. Only ``/static`` (the package's own scripts and styles, which the page loads
without the token and which hold no data) is served without the token.
Each WebSocket gets its own ``Session``; its methods run in a worker thread, one at a time per
session, so the event loop only moves messages. Closing the tab frees the session.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import math
import secrets
import threading
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import DeltapropError, DivergenceError
from . import messages
from .session import Session

MAX_SESSIONS = 64
PLAY_BURST = 0.05  # seconds of training between two updates while playing
EQUATIONS_EVERY = 1.0  # seconds between refreshes of the shown equations while playing
# messages read ahead while the session is busy; then reading stops, and the page's socket
# buffers fill up (backpressure) instead of the server's memory
INBOX_SIZE = 8
STATIC = resources.files("deltaprop.playground") / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'"
)


@dataclass
class Tab:
    """A session and the lock that makes its methods run one at a time."""

    session: Session
    lock: threading.Lock = field(default_factory=threading.Lock)
    unit: tuple[int, int] | None = None  # (layer, unit) whose equations the page shows
    inbox: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=INBOX_SIZE))

    async def run(self, method, *args):
        def locked():
            with self.lock:
                return method(*args)

        return await asyncio.to_thread(locked)


def create_app(token: str, allowed_hosts: set[str] | None) -> Starlette:
    """The ASGI app. ``allowed_hosts`` are ``host:port`` values the Host header may carry
    (``None`` accepts any, for ``--host 0.0.0.0``); the token is required everywhere but on
    ``/static``, which checks the Host only."""
    tabs: dict[str, Tab] = {}

    def unknown_host(host: str) -> str | None:
        """``None`` when ``host`` names this server, else why it is refused."""
        if allowed_hosts is not None and host not in allowed_hosts:
            return f"unknown Host {host!r}"
        return None

    def authorised(scope_headers: dict[str, str], query: dict[str, str]) -> str | None:
        """``None`` when the request may go on, else why not."""
        host = scope_headers.get("host", "")
        if (refused := unknown_host(host)) is not None:
            return refused
        origin = scope_headers.get("origin")
        if origin is not None and _netloc(origin) != host:
            return f"foreign Origin {origin!r}"
        # bytes: compare_digest refuses str with non-ASCII characters
        if not hmac.compare_digest(query.get("token", "").encode(), token.encode()):
            return "missing or wrong token: open the URL the playground printed"
        return None

    def refuse(request: Request) -> Response | None:
        reason = authorised(dict(request.headers), dict(request.query_params))
        return None if reason is None else PlainTextResponse(reason, status_code=403)

    async def page(request: Request) -> Response:
        refused = refuse(request)
        if refused:
            return refused
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers=_headers())

    async def export(request: Request) -> Response:
        refused = refuse(request)
        if refused:
            return refused
        tab = tabs.get(request.query_params.get("session", ""))
        if tab is None:
            return PlainTextResponse("no such session: reload the page", status_code=404)
        try:
            body = await tab.run(tab.session.model_file)
        except DivergenceError as error:
            return PlainTextResponse(_one_line(error), status_code=409)
        return Response(
            body,
            media_type="application/octet-stream",
            headers={"Content-Disposition": 'attachment; filename="playground.safetensors"'},
        )

    async def socket(websocket: WebSocket) -> None:
        reason = authorised(dict(websocket.headers), dict(websocket.query_params))
        if reason is not None:
            await websocket.close(code=1008, reason=reason)
            return
        await websocket.accept()
        if len(tabs) >= MAX_SESSIONS:
            await _send(websocket, {"type": "error", "message": "too many open tabs: close one"})
            await websocket.close(code=1013)
            return
        name = secrets.token_urlsafe(12)
        tabs[name] = tab = Tab(await asyncio.to_thread(Session))
        try:
            await _serve(websocket, name, tab)
        except (WebSocketDisconnect, OSError):  # the tab closed while a message was on its way
            pass
        finally:
            del tabs[name]

    static_files = StaticFiles(directory=str(STATIC))

    async def static(scope, receive, send) -> None:
        reason = unknown_host(Headers(scope=scope).get("host", ""))
        if reason is None:
            await static_files(scope, receive, send)
        else:
            await PlainTextResponse(reason, status_code=403)(scope, receive, send)

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/export", export),
            WebSocketRoute("/ws", socket),
            Mount("/static", static, name="static"),
        ]
    )
    app.state.tabs = tabs
    return app


def _netloc(url: str) -> str | None:
    """The ``host:port`` of ``url``; ``None`` when it is malformed (``http://[``)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return None


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


async def _serve(websocket: WebSocket, name: str, tab: Tab) -> None:
    """Answer the page's messages and, while playing, send an update after every burst."""
    inbox = tab.inbox

    async def receive() -> None:
        try:
            while True:
                await inbox.put(await websocket.receive_text())
        except (WebSocketDisconnect, RuntimeError, KeyError):  # closed, or a binary frame
            await inbox.put(None)

    receiver = asyncio.create_task(receive())
    session, playing, shown_at = tab.session, False, 0.0
    await _send(websocket, {"type": "hello", "session": name})
    await _send_state(websocket, tab)
    try:
        while True:
            if playing and inbox.empty():
                try:
                    update = await tab.run(_burst, session)
                except DivergenceError as error:
                    playing = False
                    await _send(websocket, {"type": "diverged", "message": str(error)})
                    await _send_safely(websocket, tab, session.update)  # where it stopped
                    continue
                update["playing"] = True
                await _send(websocket, update)
                now = asyncio.get_running_loop().time()
                if tab.unit and now - shown_at > EQUATIONS_EVERY:
                    shown_at = now
                    await _send(websocket, await tab.run(session.explain_unit, *tab.unit))
                continue
            raw = await inbox.get()
            if raw is None:
                return
            kind = None
            try:
                kind, fields = messages.parse(raw)
                playing = await _handle(websocket, tab, kind, fields, playing)
            except DivergenceError as error:
                playing = False
                await _send(websocket, {"type": "diverged", "message": str(error)})
            except (DeltapropError, ValueError) as error:
                error_type = "upload_error" if kind == "upload" else "error"
                await _send(websocket, {"type": error_type, "message": _one_line(error)})
                if error_type == "error":  # the page's controls show the real state
                    await _send_safely(websocket, tab, session.state, session.update)
    finally:
        receiver.cancel()


def _burst(session: Session) -> dict:
    session.train_for(PLAY_BURST)
    return session.update()


async def _handle(websocket: WebSocket, tab: Tab, kind: str, fields: dict, playing: bool) -> bool:
    """Carry out one checked message; returns whether training plays afterwards."""
    session = tab.session
    if kind in ("play", "pause"):
        playing = kind == "play"
        update = await tab.run(session.update)
        await _send(websocket, {**update, "playing": playing})
        return playing
    if kind == "snippet":
        await _send(websocket, {"type": "snippet", "text": await tab.run(session.snippet)})
        return playing
    if kind == "explain":
        tab.unit = (fields["layer"], fields["unit"])
        await _send(websocket, await tab.run(session.explain_unit, *tab.unit))
        return playing
    if kind == "select":
        await tab.run(session.select, fields["x1"], fields["x2"])
        await _send(websocket, {"type": "selected", "selected": session.selected})
        if tab.unit:
            await _send(websocket, await tab.run(session.explain_unit, *tab.unit))
        return playing
    if kind == "step_through":
        await _send(websocket, await tab.run(session.step_through))
        await _send(websocket, await tab.run(session.update))
        return False
    method = {
        "step": session.step,
        "epoch": session.train_epoch,
        "reset": session.reset,
        "configure": lambda: session.configure(fields["config"]),
        "upload": lambda: session.set_upload(fields["name"], fields["text"]),
    }[kind]
    await tab.run(method)
    if kind in ("step", "epoch"):
        await _send(websocket, {**await tab.run(session.update), "playing": playing})
        if tab.unit:
            await _send(websocket, await tab.run(session.explain_unit, *tab.unit))
        return playing
    tab.unit = None
    await _send_state(websocket, tab)
    if kind == "upload":
        await _send(websocket, {"type": "notice", "message": f"loaded {fields['name']}"})
    return False


async def _send_state(websocket: WebSocket, tab: Tab) -> None:
    await _send(websocket, await tab.run(tab.session.state))
    await _send(websocket, await tab.run(tab.session.update))


async def _send_safely(websocket: WebSocket, tab: Tab, *methods) -> None:
    """Send what each of ``methods`` (of the session) returns, from an error handler: an error
    there is reported as one line instead of escaping the handler and closing the socket."""
    try:
        for method in methods:
            await _send(websocket, await tab.run(method))
    except (DeltapropError, ValueError) as error:
        await _send(websocket, {"type": "error", "message": _one_line(error)})


async def _send(websocket: WebSocket, message: dict) -> None:
    await websocket.send_text(json.dumps(_finite(message), separators=(",", ":")))


def _finite(value):
    """``value`` with every NaN or infinity as ``None`` (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _one_line(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:400]


def new_token() -> str:
    return secrets.token_urlsafe(24)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True, out=None) -> None:
    """Serve the playground until Ctrl-C; the first line written to ``out`` is the page's URL.

    ``port`` 0 takes a free port. A non-loopback ``host`` is reachable from other machines:
    the token still guards it, and a warning says so.
    """
    import socket as sockets
    import sys
    import webbrowser

    import uvicorn

    out = out or sys.stdout
    family = sockets.AF_INET6 if ":" in host else sockets.AF_INET
    listener = sockets.socket(family, sockets.SOCK_STREAM)
    listener.setsockopt(sockets.SOL_SOCKET, sockets.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        taken = error.errno in (errno.EADDRINUSE, errno.EACCES)
        fix = (
            "choose another --port"
            if taken
            else f"check --host {host} (an address of this machine)"
        )
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror}; {fix}") from None
    # Listening before the URL is printed: a browser (or script) that connects while uvicorn
    # is still starting waits in the backlog instead of being refused.
    listener.listen(128)
    port = listener.getsockname()[1]
    token = new_token()
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    netloc = f"[{shown}]:{port}" if ":" in shown else f"{shown}:{port}"
    url = f"http://{netloc}/?token={token}"
    if host in ("0.0.0.0", "::"):
        allowed = None
    else:
        allowed = {netloc} | {f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]")}
    print(url, file=out, flush=True)
    if host not in LOOPBACK:
        print(
            f"warning: listening on {host}, reachable from other machines; anyone with the URL "
            "(its token) can use the playground",
            file=sys.stderr,
        )
    app = create_app(token, allowed)
    config = uvicorn.Config(
        app, log_level="warning", ws_max_size=messages.MAX_MESSAGE * 2, lifespan="off"
    )
    server = uvicorn.Server(config)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:  # Ctrl-C is how the playground is stopped: not an error
        pass
    finally:
        listener.close()
