"""A small HTTP/1.1 keep-alive client on asyncio + httptools, for the MCP hot path.

Why not httpx or aiohttp: on this path they cost several times the whole gateway budget per
call, and httpx's pool degrades under concurrency. This client does one thing: send a
request with a known body and read the response, reusing idle connections per origin.

`HttpPool.request` returns the whole response body (bounded by `max_body`), except for
`text/event-stream` responses, whose body is fed to `sse_done` chunk by chunk: when it
returns True the exchange ends there (the connection is closed rather than reused, since
the stream is unfinished). Every exchange has a deadline; on expiry the connection is
closed and `UpstreamTimeout` raised, so no caller ever hangs on an upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, cast

import httptools

from stoa.gateway.snapshot.compiled import UpstreamTarget

_MAX_IDLE_PER_ORIGIN: Final = 64
_IDLE_SECONDS: Final = 30.0


class UpstreamUnavailable(Exception):
    """The upstream could not be reached, or broke the connection, or spoke bad HTTP."""


class UpstreamTimeout(Exception):
    """The upstream did not answer within the deadline."""


class UpstreamTooLarge(Exception):
    """The upstream's response body exceeds the limit."""


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class _Exchange:
    """One request's response being read (a plain slotted class: built on every call)."""

    __slots__ = (
        "chunks",
        "complete",
        "future",
        "got_bytes",
        "headers",
        "max_body",
        "size",
        "sse_done",
        "status",
        "streaming",
    )

    def __init__(
        self,
        future: asyncio.Future[HttpResponse],
        max_body: int,
        sse_done: Callable[[bytes], bool] | None,
    ) -> None:
        self.future = future
        self.max_body = max_body
        self.sse_done = sse_done
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.size = 0
        self.streaming = False
        self.complete = False
        self.got_bytes = False


class _Connection(asyncio.Protocol):
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self._header_name = b""

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange = self.exchange
        if exchange is not None and not exchange.future.done():
            if exchange.streaming and exchange.status:
                # A stream that ends with the connection is a finished stream.
                self._finish(exchange)
            else:
                exchange.future.set_exception(
                    UpstreamUnavailable("the upstream closed the connection before answering")
                )

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.close()
            if exchange is not None and not exchange.future.done():
                exchange.future.set_exception(
                    UpstreamUnavailable(f"the upstream answered with invalid HTTP: {exc}")
                )

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        if name:
            self._header_name = name
            key = name.decode("latin-1").lower()
            previous = exchange.headers.get(key)
            text = value.decode("latin-1")
            exchange.headers[key] = text if previous is None else f"{previous}, {text}"
        else:  # continuation of the same header value
            key = self._header_name.decode("latin-1").lower()
            exchange.headers[key] += value.decode("latin-1")

    def on_headers_complete(self) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        exchange.status = self.parser.get_status_code()
        content_type = exchange.headers.get("content-type", "")
        exchange.streaming = exchange.sse_done is not None and content_type.lower().startswith(
            "text/event-stream"
        )

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is None or exchange.future.done():
            return
        exchange.size += len(body)
        if exchange.size > exchange.max_body:
            self.close()
            exchange.future.set_exception(
                UpstreamTooLarge(f"the upstream's response exceeds {exchange.max_body} bytes")
            )
            return
        exchange.chunks.append(body)
        if exchange.streaming and exchange.sse_done is not None and exchange.sse_done(body):
            self._finish(exchange)

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        exchange.complete = True
        self.reusable = self.parser.should_keep_alive()
        if not exchange.future.done():
            self._finish(exchange)

    def _finish(self, exchange: _Exchange) -> None:
        exchange.future.set_result(
            HttpResponse(exchange.status, exchange.headers, b"".join(exchange.chunks))
        )

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """Keep-alive connections per upstream origin, shared by every call in this process."""

    def __init__(self, *, connect_timeout: float = 5.0) -> None:
        self._idle: dict[str, list[_Connection]] = {}
        self._connect_timeout = connect_timeout
        self._tls: ssl.SSLContext | None = None

    async def request(
        self,
        target: UpstreamTarget,
        method: str,
        path: str,
        headers: Iterable[tuple[str, str]],
        body: bytes = b"",
        *,
        deadline: float,
        max_body: int = 10_000_000,
        sse_done: Callable[[bytes], bool] | None = None,
    ) -> HttpResponse:
        """Send one request to `target` and read the answer within `deadline` seconds.

        `path` is the request target (path and query, already encoded). `headers` must not
        include Host, Content-Length or Connection; they are set here.

        Raises:
            UpstreamUnavailable, UpstreamTimeout, UpstreamTooLarge.
        """
        head = _head(method, path, target.host_header, headers, len(body))
        return await self.send(
            target, head + body, deadline=deadline, max_body=max_body, sse_done=sse_done
        )

    async def send(
        self,
        target: UpstreamTarget,
        message: bytes,
        *,
        deadline: float,
        max_body: int = 10_000_000,
        sse_done: Callable[[bytes], bool] | None = None,
    ) -> HttpResponse:
        """`request` for a message whose head (with `Host` and `Content-Length`) and body
        the caller encoded: callers that send the same head often keep it precomputed."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        for attempt in range(2):
            connection, reused = await self._connection(target, end - loop.time(), deadline)
            exchange = _Exchange(loop.create_future(), max_body, sse_done)
            connection.exchange = exchange
            connection.reusable = False
            assert connection.transport is not None
            connection.transport.write(message)
            # A timer rather than asyncio.timeout: one handle per call, no task bookkeeping.
            timer = loop.call_at(end, _expire, exchange.future, deadline)
            response: HttpResponse | None
            try:
                response = await exchange.future
            except UpstreamUnavailable:
                connection.close()
                # An idle connection the upstream closed meanwhile: retry once on a new
                # one, as long as nothing was received.
                if not (reused and not exchange.got_bytes and attempt == 0):
                    raise
                response = None
            except BaseException:
                # Timeouts and cancellation end the future too: close, never reuse.
                connection.close()
                raise
            finally:
                timer.cancel()
            if response is None:
                continue
            self._release(connection, exchange)
            return response
        raise UpstreamUnavailable("the upstream closed the connection before answering")

    async def _connection(
        self, target: UpstreamTarget, remaining: float, deadline: float
    ) -> tuple[_Connection, bool]:
        origin = target.origin
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < _IDLE_SECONDS:
                return connection, True
            connection.close()
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if target.scheme == "https" else None
        if remaining <= 0:
            raise UpstreamTimeout(f"the upstream did not answer within {deadline:g} s")
        try:
            async with asyncio.timeout(min(self._connect_timeout, remaining)):
                _, protocol = await loop.create_connection(
                    lambda: _Connection(origin),
                    target.host,
                    target.port,
                    ssl=tls,
                    server_hostname=target.host if tls else None,
                )
        except TimeoutError:
            if remaining < self._connect_timeout:
                raise UpstreamTimeout(
                    f"the upstream did not answer within {deadline:g} s"
                ) from None
            raise UpstreamUnavailable(
                f"could not connect to the upstream within {self._connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise UpstreamUnavailable(
                f"could not connect to the upstream: {exc.strerror or exc}"
            ) from None
        return protocol, False

    def _release(self, connection: _Connection, exchange: _Exchange) -> None:
        connection.exchange = None
        if connection.closed or not exchange.complete or not connection.reusable:
            connection.close()
            return
        idle = self._idle.setdefault(connection.origin, [])
        if len(idle) >= _MAX_IDLE_PER_ORIGIN:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                with contextlib.suppress(Exception):
                    connection.close()
        self._idle.clear()
        # Transports close on the next loop iterations; let them, so no socket outlives us.
        for _ in range(3):
            await asyncio.sleep(0)


def _expire(future: asyncio.Future[HttpResponse], deadline: float) -> None:
    if not future.done():
        future.set_exception(UpstreamTimeout(f"the upstream did not answer within {deadline:g} s"))


def _head(
    method: str, path: str, host: str, headers: Iterable[tuple[str, str]], length: int
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"]
    lines.extend(f"{name}: {value}\r\n" for name, value in headers)
    if length or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {length}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")
