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

__all__ = ["ServerSettings", "serve", "server_config"]

NEEDED = ("fastapi", "fastapi_offline", "uvicorn")
MAX_CONNECTIONS = 1024


def check_installed() -> None:
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        raise Text2SignError(f"text2sign serve needs {', '.join(missing)}: pip install 'text2sign[serve]'")


def serve(settings: ServerSettings, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Load the default model, then answer on `host`:`port` until interrupted (Ctrl-C, SIGTERM).

    The model (and a lexicon) is loaded and tried before the port is bound: a model that cannot
    load is one error line and exit code 1, never a server that starts and then dies."""
    check_installed()
    import uvicorn

    from text2sign.server.app import create_app

    app = create_app(settings)
    service = app.state.service
    if settings.warm_up:
        service.warm_up()
    config = server_config(app, log_level, service.pool.capacity + service.draw_pool.capacity)
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
        "serving %s on http://%s:%d (%d workers, %d drawing, queue %d, cache %d)",
        service.models.default,
        shown,
        bound_port,
        settings.workers,
        settings.draw_workers,
        settings.queue,
        settings.cache_size,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has shut down gracefully, then handed the signal on: stopping is a server's normal end.
        pass
    logging.getLogger("text2sign.server").info("stopped")


def server_config(
    app,
    log_level: str = "info",
    capacity: int = 64,
    connections: int | None = None,
    read_timeout: float | None = None,
    **options,
):
    """uvicorn's settings for `app`: the guarded protocol (:mod:`.protocol`; at most `connections`
    open, by default as many as `capacity` and the process's file limit allow) instead of uvicorn's
    own connection limit, which answers in plain text and counts idle sockets against everyone."""
    import uvicorn

    from text2sign.server.protocol import REQUEST_READ_TIMEOUT_S, protocol_class

    protocol = protocol_class(connections or max_connections(capacity), read_timeout or REQUEST_READ_TIMEOUT_S)
    settings = {"timeout_keep_alive": 5, "timeout_graceful_shutdown": 5, **options}
    return uvicorn.Config(
        app,
        log_config=None,
        log_level=log_level,
        access_log=False,
        ws="none",
        lifespan="on",
        http=protocol,
        limit_concurrency=None,
        **settings,
    )


def max_connections(capacity: int) -> int:
    """Open connections kept at once: many per request slot, within what the process may open."""
    try:
        import resource
    except ImportError:  # not a Unix: no limit to read
        return MAX_CONNECTIONS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else max(16, soft // 2)
    return min(MAX_CONNECTIONS, room, max(256, 8 * capacity))
