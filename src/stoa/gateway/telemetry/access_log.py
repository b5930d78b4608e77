"""Structured JSON access logs: one line per request on stdout, without secrets or bodies.

A request only appends its fields to a list; every 200 ms (or every 1,000 lines) the
lines are encoded by msgspec in one call and written in one system call, because
formatting a line in Python, or a `write` per request, would cost more than the rest of
the request's handling.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import IO, Final

import msgspec

from stoa.gateway.telemetry.access_line import AccessLine

_encoder: Final = msgspec.json.Encoder()
_FLUSH_LINES: Final = 1000
_FLUSH_SECONDS: Final = 0.2


class AccessLog:
    def __init__(self, enabled: bool, stream: IO[bytes] | None = None) -> None:
        self.enabled = enabled
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._pending: list[AccessLine] = []
        self._flush_scheduled = False

    def write(
        self,
        request_id: str,
        client_ip: str,
        method: str,
        path: str,
        status: int,
        seconds: float,
        labels: tuple[str, str, str, str],
        subject: str,
        upstream_seconds: float,
        response_bytes: int,
    ) -> None:
        """One line. `labels` are the kind, tenant, API and tool of the answer
        (`RequestStats.labels`); `upstream_seconds` < 0: no upstream was called. Times
        are kept to the microsecond."""
        self._pending.append(
            AccessLine(
                time.time(),
                request_id,
                client_ip,
                method,
                path,
                status,
                int(seconds * 1_000_000) / 1000,
                labels[0],
                labels[1],
                labels[2],
                subject,
                None if upstream_seconds < 0.0 else int(upstream_seconds * 1_000_000) / 1000,
                response_bytes,
            )
        )
        if len(self._pending) >= _FLUSH_LINES:
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
        data = _encoder.encode_lines(self._pending)
        self._pending = []
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            pass  # a closed stdout must not take the gateway down
