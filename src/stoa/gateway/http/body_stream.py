"""A request body that keeps arriving after its request was dispatched.

Large or chunked uploads to `/proxy` are relayed upstream as they arrive instead of being
buffered whole: the handler gets the request when its head is complete, and attaches a
`BodySink` that receives the chunks (those that came before it attached first).
"""

from __future__ import annotations

from typing import Protocol


class BodySink(Protocol):
    def on_request_body(self, chunk: bytes) -> None: ...
    def on_request_end(self) -> None: ...
    def on_request_failed(self, reason: str) -> None:
        """The body broke a limit or the client went away; stop relaying it."""
        ...


class BodyStream:
    __slots__ = ("_chunks", "_sink", "done", "failed", "size")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._sink: BodySink | None = None
        self.done = False
        self.failed: str | None = None
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        if self.failed is not None:
            return
        self.size += len(chunk)
        if self._sink is not None:
            self._sink.on_request_body(chunk)
        else:
            self._chunks.append(chunk)

    def finish(self) -> None:
        self.done = True
        if self._sink is not None and self.failed is None:
            self._sink.on_request_end()

    def fail(self, reason: str) -> None:
        if self.failed is not None:
            return
        self.failed = reason
        self._chunks = []
        if self._sink is not None:
            self._sink.on_request_failed(reason)

    def attach(self, sink: BodySink) -> None:
        """Deliver what arrived so far, then every later chunk, to `sink`."""
        self._sink = sink
        chunks, self._chunks = self._chunks, []
        for chunk in chunks:
            sink.on_request_body(chunk)
        if self.failed is not None:
            sink.on_request_failed(self.failed)
        elif self.done:
            sink.on_request_end()

    def detach(self) -> None:
        self._sink = None
