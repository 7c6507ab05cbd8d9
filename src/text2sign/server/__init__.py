"""``text2sign serve``: the HTTP API (:mod:`.app`) and the web page (``static/``).

Needs the ``serve`` extra (``pip install 'text2sign[serve]'``: FastAPI, uvicorn and offline API
docs); the core install runs without it. One process holds each model once; `workers` threads run
the model calls, so the event loop keeps answering while they work.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import sys

from text2sign.errors import Text2SignError
from text2sign.server.service import ServerSettings

__all__ = ["ServerSettings", "serve"]

NEEDED = ("fastapi", "fastapi_offline", "uvicorn")


def check_installed() -> None:
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        raise Text2SignError(f"text2sign serve needs {', '.join(missing)}: pip install 'text2sign[serve]'")


def serve(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Load the default model, then answer on `host`:`port` until interrupted (Ctrl-C, SIGTERM)."""
    check_installed()
    import uvicorn

    from text2sign.server.app import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, log_level=log_level, access_log=False,
        # Connections past this get 503 from uvicorn itself, before any request is read.
        limit_concurrency=max(64, 4 * app.state.service.pool.capacity),
        timeout_keep_alive=5, timeout_graceful_shutdown=5,
    )
    # Bound here rather than by uvicorn, which exits the process on failure and cannot say port 0's real port.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        raise Text2SignError(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    for name in ("text2sign.server", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(log_level.upper())
        logger.propagate = False
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    logging.getLogger("text2sign.server").info(
        "serving %s on http://%s:%d (%d workers, queue %d, cache %d); loading the model first",
        app.state.service.models.default, shown, bound_port, settings.workers, settings.queue, settings.cache_size,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has shut down gracefully, then handed the signal on: stopping is a server's normal end.
        pass
    logging.getLogger("text2sign.server").info("stopped")
