"""One keep-alive HTTP/1.1 connection to an upstream, parsed with httptools.

Callback-driven on purpose: the response is handed to a `ResponseSink` as it is parsed,
so the REST proxy can relay it to the client without a coroutine per request.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

import httptools


class ResponseSink(Protocol):
    """Receives one upstream response, in order: head, body chunks, then end or failure."""

    def on_upstream_head(self, status: int, head: bytes) -> None:
        """`head`: the response's status line and header lines as received, ending with
        the empty line (kept raw: parsing each header in Python costs more than relaying)."""
        ...

    def on_upstream_body(self, chunk: bytes) -> None: ...
    def on_upstream_end(self) -> None: ...
    def on_upstream_flush(self) -> None:
        """One received packet is parsed: write out what was gathered (one syscall
        instead of one per parser callback)."""
        ...

    def on_upstream_failure(self, reason: str, got_bytes: bool) -> None:
        """The connection failed; `got_bytes` says whether any response byte arrived."""
        ...


class UpstreamConnection(asyncio.Protocol):
    """A pooled connection; `send` one request at a time, `release` hands it back."""

    __slots__ = (
        "_got_bytes",
        "_head",
        "_keep_alive",
        "_parser",
        "_release",
        "_sink",
        "closed",
        "origin",
        "reused",
        "transport",
    )

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._parser = httptools.HttpResponseParser(self)
        self._sink: ResponseSink | None = None
        self._head: bytes | None = b""  # bytes received while the head is incomplete
        self._got_bytes = False
        self._keep_alive = True
        self._release: object = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._sink is None:
            # Bytes nobody asked for: the connection is out of step; drop it.
            self.close()
            return
        self._got_bytes = True
        sink = self._sink
        if self._head is not None:
            self._head += data
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("the upstream sent a malformed HTTP response")
            return
        sink.on_upstream_flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._sink is not None:
            self._fail("the upstream closed the connection")

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    # requests
    def send(self, data: bytes, sink: ResponseSink) -> None:
        """Write one serialized request; the response goes to `sink`."""
        assert self.transport is not None
        self._sink = sink
        self._head = b""
        self._got_bytes = False
        self.transport.write(data)

    def write(self, data: bytes) -> None:
        """More of the request (a streamed body)."""
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def abandon(self) -> None:
        """Stop delivering to the sink and close: used when the client goes away or a
        timeout fires mid-response, where the connection's state is unknown."""
        self._sink = None
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive and self._sink is None

    def _fail(self, reason: str) -> None:
        sink, self._sink = self._sink, None
        self.close()
        if sink is not None:
            sink.on_upstream_failure(reason, self._got_bytes)

    # httptools callbacks
    def on_headers_complete(self) -> None:
        received = self._head or b""
        end = received.find(b"\r\n\r\n") + 4
        status = self._parser.get_status_code()
        if status < 200:
            # An interim response (103 Early Hints): skip it, the real head follows.
            self._head = received[end:]
            return
        self._head = None
        self._keep_alive = self._parser.should_keep_alive()
        if self._sink is not None:
            self._sink.on_upstream_head(status, received[:end])

    def on_body(self, body: bytes) -> None:
        if self._sink is not None:
            self._sink.on_upstream_body(body)

    def on_message_complete(self) -> None:
        if self._head is not None:
            return  # the end of an interim response
        sink, self._sink = self._sink, None
        if not self._keep_alive:
            self.close()
        if sink is not None:
            sink.on_upstream_end()
