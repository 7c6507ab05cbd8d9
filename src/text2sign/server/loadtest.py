"""A bounded load test of ``text2sign serve`` on this machine.

It starts its own server (``text2sign serve`` in a child process, on a free loopback port), sends
the same request from N concurrent clients for a fixed time, and prints one JSON object: latency
percentiles, requests per second, errors by status, and the server's resident memory before (after
a warm-up) and after the run. It only ever talks to 127.0.0.1, and every loop ends by itself::

    python -m text2sign.server.loadtest --clients 8 --seconds 30
    python -m text2sign.server.loadtest --clients 8 --seconds 30 --words hello,world,thanks --server-arg=--cache-size=0

Mixed load: ``--draw-clients 4 --draw-size 256`` adds clients that ask for drawn GIFs (or
``--draw-format mp4``) the whole time; the report's percentiles stay those of the measured
clients, and ``draw`` holds the drawing clients' own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

HOST = "127.0.0.1"
MAX_SECONDS = 600
MAX_CLIENTS = 64


@dataclass
class LoadReport:
    clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    requests_per_s: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None
    draw: dict | None = None  # the drawing clients' own report, under mixed load

    @property
    def rss_growth_mb(self) -> float | None:
        if self.rss_before_mb is None or self.rss_after_mb is None:
            return None
        return self.rss_after_mb - self.rss_before_mb

    def to_dict(self) -> dict:
        return {**asdict(self), "rss_growth_mb": self.rss_growth_mb}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    """Resident memory of process `pid` in MiB (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def running_server(
    *args: str, port: int | None = None, timeout: float = 120.0
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``text2sign serve`` in a child process on 127.0.0.1; yields (base URL, process) once it answers."""
    import httpx

    port = port or free_port()
    command = [
        sys.executable,
        "-c",
        "from text2sign.cli import main; main()",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        *args,
    ]
    # The log goes to a file: a pipe nobody reads fills up and blocks the server's event loop.
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
        url = f"http://{HOST}:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"the server exited with {process.returncode}: {log.read()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer within {timeout:.0f} s")
                time.sleep(0.1)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def check_loopback(url: str) -> None:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load tests only target this machine (127.0.0.1), not {host!r}")


async def load(
    url: str,
    bodies: list[dict],
    clients: int,
    seconds: float,
    timeout: float = 30.0,
    draw_bodies: list[dict] | None = None,
    draw_clients: int = 0,
) -> LoadReport:
    """`clients` concurrent clients, each sending `bodies` in turn to /api/v1/generate until
    `seconds` have passed; a request counts as an error unless it answers 200. `draw_clients`
    more send `draw_bodies` meanwhile, reported apart as ``report.draw``."""
    import httpx

    check_loopback(url)
    if not 1 <= clients <= MAX_CLIENTS or not 0 <= draw_clients <= MAX_CLIENTS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(
            f"clients must be 1-{MAX_CLIENTS}, drawing clients 0-{MAX_CLIENTS} and seconds 0-{MAX_SECONDS}"
        )
    end = time.perf_counter() + seconds
    total = clients + draw_clients
    limits = httpx.Limits(max_connections=total, max_keepalive_connections=total)
    measured, drawing = _Tally(), _Tally()

    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:

        async def client(k: int, sent: list[dict], tally: _Tally) -> None:
            i = k
            while time.perf_counter() < end:
                body = sent[i % len(sent)]
                i += 1
                start = time.perf_counter()
                try:
                    response = await http.post("/api/v1/generate", json=body)
                    await response.aread()
                    tally.statuses[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    tally.statuses[type(exc).__name__] += 1
                tally.latencies.append((time.perf_counter() - start) * 1000)

        started = time.perf_counter()
        await asyncio.gather(
            *(client(k, bodies, measured) for k in range(clients)),
            *(client(k, draw_bodies or [], drawing) for k in range(draw_clients)),
        )
        elapsed = time.perf_counter() - started
    report = measured.report(clients, elapsed)
    if draw_clients:
        report.draw = drawing.report(draw_clients, elapsed).to_dict()
    return report


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)

    def report(self, clients: int, elapsed: float) -> LoadReport:
        errors = sum(v for k, v in self.statuses.items() if k != "200")
        report = LoadReport(clients, round(elapsed, 2), len(self.latencies), errors, dict(self.statuses))
        report.requests_per_s = round(len(self.latencies) / elapsed, 1)
        if self.latencies:
            p50, p95, p99 = np.percentile(self.latencies, [50, 95, 99])
            report.p50_ms, report.p95_ms, report.p99_ms = (
                round(float(p50), 2),
                round(float(p95), 2),
                round(float(p99), 2),
            )
        return report


def bodies_for(words: list[str], spoken: str, signed: str, format: str) -> list[dict]:
    return [{"text": w, "spoken": spoken, "signed": signed, "format": format} for w in words]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=int, default=50, help="Requests sent before measuring memory and time.")
    parser.add_argument("--words", default="hello", help="Comma-separated texts, sent in turn.")
    parser.add_argument("--spoken", default="en")
    parser.add_argument("--signed", default="ase")
    parser.add_argument("--format", default="pose", choices=["pose", "json", "gif", "mp4"])
    parser.add_argument(
        "--server-arg", action="append", default=[], help="Extra `text2sign serve` argument (repeatable)."
    )
    parser.add_argument(
        "--draw-clients", type=int, default=0, help="Clients asking for drawings meanwhile (mixed load)."
    )
    parser.add_argument("--draw-format", default="gif", choices=["gif", "mp4"])
    parser.add_argument("--draw-size", type=int, default=256, help="Width and height of the drawings, in pixels.")
    parser.add_argument(
        "--draw-words",
        default="good morning,thank you,see you later",
        help="Comma-separated texts the drawing clients send.",
    )
    args = parser.parse_args(argv)
    bodies = bodies_for([w for w in args.words.split(",") if w], args.spoken, args.signed, args.format)
    draw_bodies = [
        {**body, "size": args.draw_size}
        for body in bodies_for([w for w in args.draw_words.split(",") if w], args.spoken, args.signed, args.draw_format)
    ]
    with running_server(*args.server_arg) as (url, process):
        asyncio.run(_warm(url, bodies, args.warmup))
        if args.draw_clients:
            asyncio.run(_warm(url, draw_bodies, 1))  # drawing imports its libraries on first use
        before = rss_mb(process.pid)
        report = asyncio.run(
            load(url, bodies, args.clients, args.seconds, draw_bodies=draw_bodies, draw_clients=args.draw_clients)
        )
        report.rss_before_mb, report.rss_after_mb = before, rss_mb(process.pid)
    mixed = {"draw_format": args.draw_format, "draw_size": args.draw_size} if args.draw_clients else {}
    print(
        json.dumps(
            {
                "url": "127.0.0.1 (loopback)",
                "words": args.words,
                "format": args.format,
                "server_args": args.server_arg,
                **mixed,
                **report.to_dict(),
            }
        )
    )
    failed = report.errors or (report.draw or {}).get("errors")
    return 0 if not failed else 1


async def _warm(url: str, bodies: list[dict], count: int) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for i in range(count):
            await http.post("/api/v1/generate", json=bodies[i % len(bodies)])


if __name__ == "__main__":
    sys.exit(main())
