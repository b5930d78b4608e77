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

    def write(
        self,
        *,
        request_id: str,
        client_ip: str,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        kind: str,
        tenant: str,
        api: str,
        subject: str,
        upstream_ms: float | None,
        response_bytes: int,
    ) -> None:
        """One line; strings that come from the caller are JSON-encoded, the others are
        ids and names the gateway made or validated."""
        encode = _encoder.encode
        line = (
            b'{"ts":%.6f,"level":"info","logger":"stoa.gateway.access","request_id":%b,'
            b'"client_ip":"%b","method":%b,"path":%b,"status":%d,"duration_ms":%.3f,'
            b'"kind":"%b","tenant":"%b","api":"%b","subject":"%b","upstream_ms":%b,'
            b'"response_bytes":%d}\n'
            % (
                time.time(),
                encode(request_id),
                client_ip.encode(),
                encode(method),
                encode(path),
                status,
                duration_ms,
                kind.encode(),
                tenant.encode(),
                api.encode(),
                subject.encode(),
                b"null" if upstream_ms is None else b"%.3f" % upstream_ms,
                response_bytes,
            )
        )
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
