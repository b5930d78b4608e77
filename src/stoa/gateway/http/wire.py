"""Serializing response heads: status lines and header blocks, as bytes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

from stoa.gateway.http.response import Response

STATUS_LINES: Final[dict[int, bytes]] = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus
}


def status_line(status: int) -> bytes:
    line = STATUS_LINES.get(status)
    if line is None:
        line = f"HTTP/1.1 {status} Unknown\r\n".encode()
    return line


def encode_response(response: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    """The whole response, framed with Content-Length (not for streamed responses)."""
    parts = [status_line(response.status)]
    for name, value in response.headers:
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    body = response.body
    if response.status >= 200 and response.status not in (204, 304):
        parts.append(b"content-length: %d\r\n" % len(body))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if not head_only:
        parts.append(body)
    return b"".join(parts)


def encode_stream_head(response: Response, *, keep_alive: bool) -> bytes:
    parts = [status_line(response.status)]
    for name, value in response.headers:
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    parts.append(b"transfer-encoding: chunked\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)
