"""A small keep-alive HTTP/1.1 connection pool for upstreams, on asyncio + httptools.

General-purpose clients (httpx, aiohttp) cost several times more CPU per request than the
rest of the gateway together, so the hot path uses this instead: idle connections per
origin in a deque, requests serialized by hand, responses parsed by httptools.
`request()` is the convenient buffered form for callers that await (the MCP side).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from stoa.gateway.proxy.breaker import Breakers
from stoa.gateway.proxy.connection import UpstreamConnection
from stoa.gateway.proxy.deadlines import Deadlines
from stoa.gateway.snapshot.compiled import UpstreamTarget


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer in time. `status` is what the
    gateway answers: 502 (unreachable, broken), 503 (circuit open), 504 (too slow)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class UpstreamPool:
    """Idle connections per origin, plus the origin's circuit breaker."""

    def __init__(
        self,
        *,
        max_idle_per_origin: int = 256,
        connect_timeout: float = 5.0,
        breakers: Breakers | None = None,
    ) -> None:
        self.max_idle_per_origin = max_idle_per_origin
        self.connect_timeout = connect_timeout
        self.breakers = breakers or Breakers()
        self.deadlines = Deadlines()
        self._idle: dict[str, deque[UpstreamConnection]] = {}
        self._ssl: ssl.SSLContext | None = None

    def take_idle(self, target: UpstreamTarget) -> UpstreamConnection | None:
        """A live idle connection to `target`, or None."""
        idle = self._idle.get(target.origin)
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if not connection.closed and transport is not None and not transport.is_closing():
                connection.reused = True
                return connection
        return None

    async def connect(self, target: UpstreamTarget) -> UpstreamConnection:
        """A new connection, or `UpstreamError(502/504)`."""
        loop = asyncio.get_running_loop()
        context = self._ssl_context() if target.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: UpstreamConnection(target.origin),
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context else None,
                )
        except TimeoutError as exc:
            raise UpstreamError(
                504, f"the upstream {target.origin} did not accept a connection in time"
            ) from exc
        except OSError as exc:
            raise UpstreamError(
                502, f"the upstream {target.origin} cannot be reached ({exc.strerror or exc})"
            ) from exc
        return protocol

    def put_back(self, connection: UpstreamConnection) -> None:
        """Return a connection after a complete response; closes it if not reusable."""
        if not connection.reusable:
            connection.close()
            return
        idle = self._idle.get(connection.origin)
        if idle is None:
            idle = self._idle[connection.origin] = deque()
        if len(idle) >= self.max_idle_per_origin:
            connection.close()
            return
        idle.append(connection)

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()

    async def request(
        self,
        target: UpstreamTarget,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]],
        body: bytes = b"",
        *,
        answer_within: float = 30.0,
    ) -> UpstreamReply:
        """Send one request and read the whole response; `UpstreamError` on failure.

        `path` is the request target as sent (path and query, already encoded). Host and
        Content-Length are added here. Retries once on a reused connection that turns out
        to be dead before any response byte, which is safe for any method: the upstream
        never saw the request.
        """
        breaker = self.breakers.for_origin(target.origin)
        if not breaker.allows():
            raise UpstreamError(
                503, f"the upstream {target.origin} is failing; calls are paused briefly"
            )
        head = [f"{method} {path} HTTP/1.1\r\nhost: {target.host_header}\r\n"]
        for name, value in headers:
            head.append(f"{name}: {value}\r\n")
        head.append(f"content-length: {len(body)}\r\n\r\n")
        data = "".join(head).encode("latin-1") + body
        loop = asyncio.get_running_loop()
        for _ in range(2):
            connection = self.take_idle(target)
            if connection is None:
                try:
                    connection = await self.connect(target)
                except UpstreamError:
                    breaker.failed()
                    raise
            sink = _BufferingSink(loop.create_future(), head_only=method == "HEAD")
            connection.send(data, sink)
            try:
                async with asyncio.timeout(answer_within):
                    reply = await sink.done
            except TimeoutError as exc:
                connection.abandon()
                breaker.failed()
                raise UpstreamError(
                    504, f"the upstream {target.origin} did not answer within {answer_within:g} s"
                ) from exc
            except _Broken as broken:
                if connection.reused and not broken.got_bytes:
                    continue
                breaker.failed()
                raise UpstreamError(502, f"{broken} ({target.origin})") from None
            if sink.head_only:
                connection.close()
            else:
                self.put_back(connection)
            breaker.succeeded()
            return reply
        breaker.failed()
        raise UpstreamError(502, f"the upstream {target.origin} keeps closing connections")

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl


def _parse_head(head: bytes) -> list[tuple[bytes, bytes]]:
    headers = []
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return headers


class _Broken(Exception):
    def __init__(self, reason: str, got_bytes: bool) -> None:
        super().__init__(reason)
        self.got_bytes = got_bytes


class _BufferingSink:
    __slots__ = ("_body", "_headers", "_status", "done", "head_only")

    def __init__(self, done: asyncio.Future[UpstreamReply], *, head_only: bool) -> None:
        self.done = done
        self.head_only = head_only
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    def on_upstream_head(self, status: int, head: bytes) -> None:
        self._status = status
        self._headers = _parse_head(head)
        headers = self._headers
        if self.head_only and not self.done.done():
            self.done.set_result(UpstreamReply(status, headers, b""))

    def on_upstream_body(self, chunk: bytes) -> None:
        self._body.append(chunk)

    def on_upstream_flush(self) -> None:
        pass

    def on_upstream_end(self) -> None:
        if not self.done.done():
            self.done.set_result(UpstreamReply(self._status, self._headers, b"".join(self._body)))

    def on_upstream_failure(self, reason: str, got_bytes: bool) -> None:
        if not self.done.done():
            self.done.set_exception(_Broken(reason, got_bytes))
