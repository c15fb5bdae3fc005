"""``deltaprop playground``: the browser playground (see ``deltaprop.playground``)."""

from __future__ import annotations

import argparse
import textwrap

from ..errors import MissingDependencyError
from .common import add_parser

EXAMPLES = [
    "deltaprop playground                      (127.0.0.1, a free port, opens the browser)",
    "deltaprop playground --port 8000 --no-browser",
    "deltaprop playground --host 0.0.0.0       (reachable from other machines: warns)",
]


def register(subparsers) -> None:
    parser = add_parser(
        subparsers,
        "playground",
        "build, train and step through backpropagation in the browser",
        textwrap.fill(
            "Start a local web server with the playground and open it in the browser: pick a "
            "data set, edit the network, train it with deltaprop and click any unit to see the "
            "backpropagation equations with its numbers. The first line printed is the URL "
            "(with its access token). Ctrl-C stops the server."
        ),
        EXAMPLES,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..playground.server import serve
    except ImportError as error:
        raise MissingDependencyError(
            f"the playground needs {error.name}: pip install 'deltaprop[playground]'"
        ) from None
    if not 0 <= args.port <= 65535:
        from . import UsageError

        raise UsageError(f"--port must be from 0 to 65535, got {args.port}")
    serve(args.host, args.port, open_browser=not args.no_browser)
    return 0
