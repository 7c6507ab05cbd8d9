import contextlib
import threading
import time

import pytest


@pytest.fixture(scope="session")
def serve_in_thread():
    """A context manager that runs an app with uvicorn on a free 127.0.0.1 port in a thread and
    yields its base URL: a real socket, for what an in-process client cannot show. Keywords go
    to :func:`text2sign.server.server_config` (connections, read_timeout)."""

    @contextlib.contextmanager
    def serve(app, **protocol):
        import uvicorn

        from text2sign.server import server_config

        # The protocol and limits `text2sign serve` runs with; `protocol` may narrow them (connections, read_timeout).
        config = server_config(app, timeout_graceful_shutdown=2, host="127.0.0.1", port=0, **protocol)
        sock = config.bind_socket()
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            thread.join(10)

    return serve


@pytest.fixture(scope="session")
def live_url(serve_in_thread):
    """The default server (concat), on a real socket, shared by the fault and browser tests."""
    pytest.importorskip("fastapi")
    pytest.importorskip("fastapi_offline")
    from text2sign.server import ServerSettings
    from text2sign.server.app import create_app

    with serve_in_thread(create_app(ServerSettings(workers=2, queue=8))) as url:
        yield url
