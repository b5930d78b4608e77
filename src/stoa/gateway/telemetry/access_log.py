"""Structured JSON access logs: one line per request on stdout, without secrets or bodies.

Lines are buffered and flushed every 200 ms or every 64 KiB, because a `write` system
call per request would cost more than the rest of the request's handling.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import IO

import msgspec


class AccessEntry(msgspec.Struct, omit_defaults=True):
    ts: float
    request_id: str
    client_ip: str
    method: str
    path: str
    status: int
    duration_ms: float
    kind: str
    tenant: str = ""
    api: str = ""
    tool: str = ""
    subject: str = ""
    upstream_ms: float | None = None
    response_bytes: int = 0
    level: str = "info"
    logger: str = "stoa.gateway.access"


_encoder = msgspec.json.Encoder()
_FLUSH_BYTES = 65536
_FLUSH_SECONDS = 0.2


class AccessLog:
    def __init__(self, enabled: bool, stream: IO[bytes] | None = None) -> None:
        self.enabled = enabled
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._pending: list[bytes] = []
        self._size = 0
        self._flush_scheduled = False

    def write(self, entry: AccessEntry) -> None:
        line = _encoder.encode(entry) + b"\n"
        self._pending.append(line)
        self._size += len(line)
        if self._size >= _FLUSH_BYTES:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_later(_FLUSH_SECONDS, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending = []
        self._size = 0
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed stdout must not take the gateway down


def now() -> float:
    return time.time()
