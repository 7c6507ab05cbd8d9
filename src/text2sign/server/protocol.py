"""uvicorn's HTTP/1.1 protocol with the guards a server on an open port needs.

uvicorn waits forever for a connection's first bytes and counts every open connection against its
concurrency limit, answering past it in plain text; so a client holding idle sockets open shuts
everyone else out. Here:

* a request must arrive whole (head and body) within :data:`REQUEST_READ_TIMEOUT_S` of the
  connection opening or of the previous answer; a connection that sends nothing or trickles is
  closed when that time is up;
* past `max_connections`, the connection idle longest (no request in progress) is closed to make
  room; only when every connection is working is the new one answered ``503`` with the API's JSON
  body and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import time

from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_READ_TIMEOUT_S = 10.0  # a 16 KiB body at the slowest mobile link still arrives in time
RETRY_AFTER_S = 1


def busy_response(retry_after: int = RETRY_AFTER_S) -> bytes:
    body = json.dumps({"error": f"the server is busy; retry in {retry_after} s"}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"retry-after: {retry_after}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedH11Protocol(H11Protocol):
    """See the module docstring; `max_connections` and `read_timeout` are class attributes so
    uvicorn can build one per connection from the class alone (:func:`protocol_class`)."""

    max_connections: int = 1024
    read_timeout: float = REQUEST_READ_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.opened = time.monotonic()
        self.refused = False
        self._read_deadline: asyncio.TimerHandle | None = None
        self._arm_read_deadline()
        if len(self.connections) > self.max_connections and not self._evict_idle():
            self.refused = True
            transport.write(busy_response())
            # Half-closed, not closed: closing with the request unread would reset the connection
            # and could destroy the answer before the client reads it. The read deadline ends it.
            if transport.can_write_eof():
                transport.write_eof()

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # the request of a connection already answered 503 is read and dropped
        if self._read_deadline is None and self.idle:
            # The next request on a kept-alive connection gets the same time to arrive as the first.
            self._arm_read_deadline()
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            self._disarm_read_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.opened = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_deadline()
        super().connection_lost(exc)

    @property
    def idle(self) -> bool:
        """No request is being answered (there may be one arriving)."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_read_deadline(self) -> None:
        self._disarm_read_deadline()
        self._read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            self.logger.info("closed a connection whose request did not arrive within %.0f s", self.read_timeout)
            self.transport.close()

    def _evict_idle(self) -> bool:
        idle = [
            c
            for c in self.connections
            if c is not self
            and isinstance(c, GuardedH11Protocol)
            and c.idle
            and not c.refused
            and not c.transport.is_closing()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.opened)
        oldest._disarm_read_deadline()
        oldest.transport.close()
        return True


def protocol_class(max_connections: int, read_timeout: float = REQUEST_READ_TIMEOUT_S) -> type[GuardedH11Protocol]:
    return type(
        "GuardedH11Protocol", (GuardedH11Protocol,), {"max_connections": max_connections, "read_timeout": read_timeout}
    )
