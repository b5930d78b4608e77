"""Server-sent events: writing our answers, reading upstream streams."""

from __future__ import annotations

from typing import Any, Final

import msgspec

_decoder: Final = msgspec.json.Decoder()


def sse_event(data: bytes) -> bytes:
    """One `message` event carrying a JSON-RPC message (JSON never holds a raw newline)."""
    return b"event: message\ndata: " + data + b"\n\n"


class SseReader:
    """Incremental parser of an event stream carrying JSON-RPC messages.

    `feed` takes bytes as they arrive and returns the JSON payloads of the events they
    completed; events whose data is not JSON (keep-alive primes, comments) are skipped.
    With `raw=True` the payloads are returned as bytes, undecoded, empty ones skipped.
    """

    def __init__(self, *, raw: bool = False) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._raw = raw

    def feed(self, chunk: bytes) -> list[Any]:
        self._buffer += chunk
        messages: list[Any] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return messages
            line, self._buffer = self._buffer[: cut[0]], self._buffer[cut[1] :]
            if not line:
                self._dispatch(messages)
            elif line.startswith(b":"):
                continue
            else:
                name, _, value = line.partition(b":")
                if name == b"data":
                    self._data.append(value[1:] if value.startswith(b" ") else value)

    def close(self) -> list[Any]:
        """Messages of a final event that the stream ended without a blank line."""
        messages: list[Any] = []
        if self._buffer:
            name, _, value = self._buffer.partition(b":")
            if name == b"data":
                self._data.append(value[1:] if value.startswith(b" ") else value)
            self._buffer = b""
        self._dispatch(messages)
        return messages

    def _dispatch(self, messages: list[Any]) -> None:
        if not self._data:
            return
        data = b"\n".join(self._data)
        self._data = []
        if self._raw:
            if data.strip():
                messages.append(data)
            return
        try:
            messages.append(_decoder.decode(data))
        except (msgspec.DecodeError, ValueError, RecursionError):
            return


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    """(end of the first line, start of the next) for LF, CRLF or CR line breaks."""
    lf = buffer.find(b"\n")
    cr = buffer.find(b"\r")
    if cr == -1 and lf == -1:
        return None
    if cr == -1 or (lf != -1 and lf < cr):
        return lf, lf + 1
    if cr + 1 < len(buffer):
        return (cr, cr + 2) if buffer[cr + 1 : cr + 2] == b"\n" else (cr, cr + 1)
    return None  # a CR at the end may be half of a CRLF: wait for more
