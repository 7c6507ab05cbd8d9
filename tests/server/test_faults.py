"""Clients that misbehave on a real socket (slow, leaving early, oversized, not HTTP at all):
each gets its answer or its connection closed, and the server goes on answering everyone else."""

import json
import socket
import time
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi")
import httpx

BODY = {"text": "hello", "spoken": "en", "signed": "ase"}


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    return sock


def request_head(path: str, length: int | None = None, chunked: bool = False) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


def still_serving(url: str) -> None:
    started = time.perf_counter()
    answer = httpx.post(f"{url}/api/v1/generate", json={**BODY, "text": f"still {time.perf_counter_ns()}"}, timeout=30)
    assert answer.status_code == 200
    assert time.perf_counter() - started < 10


def test_a_slow_client_does_not_hold_up_the_others(live_url):
    payload = json.dumps(BODY).encode()
    with connect(live_url) as slow:
        slow.sendall(request_head("/api/v1/generate", len(payload)) + payload[:7])
        still_serving(live_url)
        time.sleep(0.2)
        slow.sendall(payload[7:])
        assert status_of(slow) == 200


@pytest.mark.parametrize(
    "request_body, read",
    [
        ({"text": "leave before the answer", "format": "mp4", "size": 128}, 0),
        # About 6 MB of .pose: the client leaves with most of it still to be sent.
        ({"text": "leave in the middle " * 10}, 12),
    ],
)
def test_clients_that_hang_up_early_leave_nothing_behind(live_url, request_body, read):
    payload = json.dumps({**BODY, **request_body}).encode()
    with connect(live_url) as leaving:
        leaving.sendall(request_head("/api/v1/generate", len(payload)) + payload)
        if read:
            leaving.recv(read)
    still_serving(live_url)
    deadline = time.monotonic() + 30
    while httpx.get(f"{live_url}/healthz").json()["in_flight"]:
        assert time.monotonic() < deadline, "a request of a client that left never finished"
        time.sleep(0.05)


def test_a_chunked_body_over_the_limit_is_refused_with_413(live_url):
    chunk = b"x" * 4096
    with connect(live_url) as big:
        big.sendall(request_head("/api/v1/generate", chunked=True))
        for _ in range(5):
            big.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert status_of(big) == 413
    still_serving(live_url)


def test_a_declared_length_over_the_limit_is_refused_before_reading(live_url):
    with connect(live_url) as big:
        big.sendall(request_head("/api/v1/generate", 10**9) + b"{")
        assert status_of(big) == 413
    still_serving(live_url)


def test_a_body_cut_short_and_bytes_that_are_not_http(live_url):
    with connect(live_url) as cut:
        cut.sendall(request_head("/api/v1/generate", 100) + b'{"text": ')
    with connect(live_url) as garbage:
        garbage.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 not http\r\n\r\n")
        assert status_of(garbage) in (0, 400)
    still_serving(live_url)


@pytest.fixture(scope="module")
def guarded_url(serve_in_thread):
    """A server that keeps at most 8 connections and gives a request 3 s to arrive."""
    from text2sign.server import ServerSettings
    from text2sign.server.app import create_app

    with serve_in_thread(create_app(ServerSettings(workers=1, queue=1)), connections=8, read_timeout=3.0) as url:
        yield url


def open_sockets(url: str, count: int) -> list[socket.socket]:
    return [connect(url) for _ in range(count)]


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(30)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_idle_connections_do_not_shut_out_other_clients(guarded_url):
    idle = open_sockets(guarded_url, 40)
    try:
        health = httpx.get(f"{guarded_url}/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        still_serving(guarded_url)
        # The last ones were never pushed out to make room: they go when their time to send a request is up.
        assert all(closed_by_server(sock) for sock in idle[-3:])
    finally:
        for sock in idle:
            sock.close()


def test_a_request_that_trickles_in_is_cut_off(guarded_url):
    head = request_head("/api/v1/generate", 200)
    with connect(guarded_url) as slow, pytest.raises(OSError):
        for byte in head * 50:
            slow.sendall(bytes([byte]))
            time.sleep(0.05)
    still_serving(guarded_url)


def test_past_the_connection_limit_with_every_connection_busy_the_answer_is_json(guarded_url):
    busy = open_sockets(guarded_url, 8)
    try:
        for sock in busy:
            sock.sendall(request_head("/api/v1/generate", 100) + b'{"text": ')  # a body still arriving
        # Until the server has read those heads the connections look idle, and an idle one makes room.
        time.sleep(0.5)
        with connect(guarded_url) as late:
            late.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while chunk := late.recv(4096):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in head.lower(), answer[:300]
        assert "busy" in json.loads(body)["error"]
    finally:
        for sock in busy:
            sock.close()
    still_serving(guarded_url)
