"""What a handler answers; the server frames it (Content-Length or chunked)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class Response:
    """A response to write.

    With `stream` set, `body` is ignored and the chunks are sent with chunked transfer
    encoding as they come (SSE, streamed bodies); the server closes the iterator when the
    client goes away. `Content-Length`, `Transfer-Encoding` and `Connection` are the
    server's to set: handlers leave them out of `headers`.
    """

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
