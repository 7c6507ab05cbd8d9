"""`text2sign serve` under load, in its own process on 127.0.0.1: 8 clients for a bounded time
while other clients misbehave (a slow body, hang-ups mid-answer, oversized and malformed
bodies). Every well-behaved request must succeed. The measured numbers for RESULTS.md come from
`python -m text2sign.server.loadtest` (benchmarks/serve_load.sh); this only prints them."""

import asyncio
import json

import pytest

pytest.importorskip("fastapi")
import httpx

from text2sign.server.loadtest import bodies_for, load, rss_mb, running_server

pytestmark = pytest.mark.slow

SECONDS = 10


async def answer_status(port: int, request: bytes, pause_after: int | None = None, read: bool = True) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if pause_after is None:
            writer.write(request)
        else:
            writer.write(request[:pause_after])
            await writer.drain()
            await asyncio.sleep(2.0)
            writer.write(request[pause_after:])
        await writer.drain()
        if not read:
            return 0
        line = await asyncio.wait_for(reader.readline(), 30)
        return int(line.split()[1])
    finally:
        writer.close()


def post(body: bytes, length: int | None = None) -> bytes:
    head = (
        "POST /api/v1/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Connection: close\r\nContent-Length: {len(body) if length is None else length}\r\n\r\n"
    )
    return head.encode() + body


async def misbehave(port: int) -> list[int]:
    good = json.dumps({"text": "slow", "spoken": "en", "signed": "ase"}).encode()
    gif = json.dumps({"text": "hello world", "spoken": "en", "signed": "ase", "format": "gif", "size": 256}).encode()
    statuses = []
    for _ in range(3):
        statuses += await asyncio.gather(
            answer_status(port, post(good), pause_after=40),
            answer_status(port, post(gif), read=False),
            answer_status(port, post(b"{", length=10**8)),
            answer_status(port, post(b'{"text": "hi", "spoken": ')),
            answer_status(port, post(b"x" * 20_000)),
        )
    return statuses


def test_eight_clients_are_all_answered_while_others_misbehave():
    bodies = bodies_for(["hello", "world", "thanks", "friend"], "en", "ase", "pose")
    with running_server("--cache-size", "0") as (url, process):
        port = int(url.rsplit(":", 1)[1])
        # Memory is compared after every code path has run once (drawing a GIF loads its libraries).
        gif = {"text": "warm", "spoken": "en", "signed": "ase", "format": "gif", "size": 256}
        for body in [gif, *bodies]:
            assert httpx.post(f"{url}/api/v1/generate", json=body, timeout=60).status_code == 200
        before = rss_mb(process.pid)

        async def both():
            return await asyncio.gather(load(url, bodies, clients=8, seconds=SECONDS), misbehave(port))

        report, statuses = asyncio.run(both())
        report.rss_before_mb, report.rss_after_mb = before, rss_mb(process.pid)
        print(json.dumps(report.to_dict()))
        assert report.errors == 0 and report.requests > 8 * SECONDS, report.to_dict()
        assert statuses == [200, 0, 413, 422, 413] * 3
        assert process.poll() is None
