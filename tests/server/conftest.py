import contextlib
import threading
import time

import pytest


@pytest.fixture(scope="session")
def serve_in_thread():
    """A context manager that runs an app with uvicorn on a free 127.0.0.1 port in a thread and
    yields its base URL: a real socket, for what an in-process client cannot show."""

    @contextlib.contextmanager
    def serve(app):
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, timeout_graceful_shutdown=2)
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
