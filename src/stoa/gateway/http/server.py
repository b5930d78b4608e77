"""The HTTP/1.1 server: one asyncio protocol per connection, parsed with httptools.

No framework and no coroutine per request: requests are parsed in callbacks and handed
to the `Handler`, which answers synchronously when it can (the REST proxy relays the
upstream response from callbacks too) and spawns a task only when it must await.
Keep-alive and pipelining: requests on one connection are answered strictly in order;
while one is in progress the next ones wait in a short queue, and reading pauses when
the queue is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any, Final, Protocol, cast
from urllib.parse import unquote

import httptools

from stoa.gateway.http.body_stream import BodyStream
from stoa.gateway.http.idle import IdleReaper
from stoa.gateway.http.problem import problem
from stoa.gateway.http.request import Request
from stoa.gateway.http.response import Response
from stoa.gateway.http.wire import encode_response, encode_stream_head

_MAX_PIPELINED: Final = 32
_MAX_REQUEST_ID: Final = 200


class Relay(Protocol):
    """An answer in progress that writes to the connection itself (the REST proxy)."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def cancel(self) -> None: ...


class Incoming:
    """One parsed request with what the server knows about it."""

    __slots__ = (
        "body",
        "body_stream",
        "client_ip",
        "headers",
        "keep_alive",
        "method",
        "path",
        "query",
        "raw_headers",
        "raw_path",
        "request_id",
        "started",
        "too_large",
    )

    def __init__(
        self,
        method: str,
        raw_path: bytes,
        query: str,
        raw_headers: list[tuple[bytes, bytes]],
        headers: dict[str, str],
        body: bytes,
        keep_alive: bool,
        client_ip: str,
        too_large: bool,
        started: float,
    ) -> None:
        self.method = method
        self.raw_path = raw_path
        text = raw_path.decode("latin-1")
        self.path = unquote(text) if "%" in text else text
        self.query = query
        self.raw_headers = raw_headers
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.client_ip = client_ip
        self.too_large = too_large
        self.started = started
        # Set when the body is relayed as it arrives (then `body` is empty).
        self.body_stream: BodyStream | None = None
        given = headers.get("x-request-id")
        if given and len(given) <= _MAX_REQUEST_ID and given.isprintable():
            self.request_id = given
        else:
            self.request_id = _request_ids.next()

    def to_request(self) -> Request:
        return Request(
            method=self.method,
            path=self.path,
            query=self.query,
            headers=self.headers,
            body=self.body,
            client_ip=self.client_ip,
            request_id=self.request_id,
        )


class _RequestIds:
    """Request ids: a random per-process prefix and a counter, unique across workers and
    replicas, and far cheaper than a UUID per request. An object rather than a module
    global, whose every update would be a dict write."""

    def __init__(self) -> None:
        self.prefix = os.urandom(6).hex() + "-"
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return self.prefix + str(self.count)


_request_ids: Final = _RequestIds()


class Handler(Protocol):
    def body_limit(self, raw_path: bytes) -> int:
        """The largest body accepted for a request to `raw_path`, before authentication."""
        ...

    def streams_body(self, raw_path: bytes, headers: dict[str, str]) -> bool:
        """Whether this request should be dispatched before its body has arrived."""
        ...

    def handle(self, connection: HttpConnection, incoming: Incoming) -> None:
        """Answer `incoming` through `connection.respond` / `write` + `finish`, now or
        later, exactly once."""
        ...


class HttpConnection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, handler: Handler, reaper: IdleReaper | None = None) -> None:
        self._handler = handler
        self._reaper = reaper
        self.last_active = time.monotonic()
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client_ip = ""
        self.closed = False
        self.write_paused = False
        self.relay: Relay | None = None
        self._queue: deque[Incoming] = deque()
        self._busy = False
        self._reading_paused = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._url = b""
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_size = 0
        self._body_limit = 0
        self._too_large = False
        self._body_stream: BodyStream | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if isinstance(peer, tuple) else ""
        if self._reaper is not None:
            self._reaper.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(501, "not-implemented", "protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._reject(400, "bad-request", "the request is not valid HTTP/1.1")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._reaper is not None:
            self._reaper.connections.discard(self)
        if self._body_stream is not None:
            self._body_stream.fail("the client closed the connection")
        relay, self.relay = self.relay, None
        if relay is not None:
            relay.cancel()
        for task in self._tasks:
            task.cancel()
        self._queue.clear()

    @property
    def answering(self) -> bool:
        """Whether a response is in progress (the client waits on us, not the reverse)."""
        return self._busy

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.relay is not None:
            self.relay.pause()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.relay is not None:
            self.relay.resume()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._raw_headers = []
        self._headers = {}
        self._body = []
        self._body_size = 0
        self._too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        declared = self._headers.get("content-length")
        if declared is None and "transfer-encoding" not in self._headers:
            # No body follows (RFC 9112 section 6.3), so there is no limit to look up and
            # nothing to stream: this spares a GET the handler's route lookup here.
            return
        path = self._url.split(b"?", 1)[0]
        self._body_limit = self._handler.body_limit(path)
        if declared is not None and declared.isdigit() and int(declared) > self._body_limit:
            self._too_large = True
        elif not self._busy and self._handler.streams_body(path, self._headers):
            incoming = self._incoming(b"")
            self._body_stream = incoming.body_stream = BodyStream()
            self._busy = True
            self._handler.handle(self, incoming)

    def on_body(self, body: bytes) -> None:
        stream = self._body_stream
        if stream is not None:
            self._body_size += len(body)
            if self._body_size > self._body_limit:
                stream.fail(f"the request body is larger than the {self._body_limit} bytes allowed")
            else:
                stream.feed(body)
            return
        if self._too_large:
            return
        self._body_size += len(body)
        if self._body_size > self._body_limit:
            self._too_large = True
            self._body = []
            return
        self._body.append(body)

    def _incoming(self, body: bytes) -> Incoming:
        url = self._url
        if url[:1] == b"/":
            # Origin form: split by hand (httptools.parse_url costs a URL object per request).
            if b"#" in url:
                url = url.split(b"#", 1)[0]
            raw_path, _, raw_query = url.partition(b"?")
            query = raw_query.decode("latin-1")
        else:
            raw_path, query = url or b"/", ""
        return Incoming(
            method=self._parser.get_method().decode("ascii"),
            raw_path=raw_path,
            query=query,
            raw_headers=self._raw_headers,
            headers=self._headers,
            body=body,
            keep_alive=self._parser.should_keep_alive() and not self._too_large,
            client_ip=self.client_ip,
            too_large=self._too_large,
            started=time.perf_counter(),
        )

    def on_message_complete(self) -> None:
        stream = self._body_stream
        if stream is not None:
            # Dispatched when its head arrived; its answer may even be out already.
            self._body_stream = None
            stream.finish()
            return
        incoming = self._incoming(b"".join(self._body) if len(self._body) != 1 else self._body[0])
        if self._busy:
            self._queue.append(incoming)
            if len(self._queue) >= _MAX_PIPELINED and self.transport is not None:
                self.transport.pause_reading()
                self._reading_paused = True
            return
        self._busy = True
        self._handler.handle(self, incoming)

    # answering
    def respond(self, incoming: Incoming, response: Response) -> None:
        """Send a whole response (or start streaming it) and then go on to the next."""
        if self.closed or self.transport is None:
            return
        if response.stream is not None:
            self.spawn(self._stream(incoming, response))
            return
        self.transport.write(
            encode_response(
                response, keep_alive=incoming.keep_alive, head_only=incoming.method == "HEAD"
            )
        )
        self.finish(incoming)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def finish(self, incoming: Incoming, *, close: bool = False) -> None:
        """The answer to `incoming` is complete: close, or serve the next request."""
        self.relay = None
        if close or not incoming.keep_alive:
            self.close()
            return
        if self._queue:
            following = self._queue.popleft()
            if self._reading_paused and self.transport is not None:
                self._reading_paused = False
                self.transport.resume_reading()
            self._handler.handle(self, following)
        else:
            self._busy = False
            self.last_active = time.monotonic()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run `coroutine` for this connection; it is cancelled if the client goes away."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stream(self, incoming: Incoming, response: Response) -> None:
        assert response.stream is not None
        stream = response.stream
        self.write(encode_stream_head(response, keep_alive=incoming.keep_alive))
        try:
            async for chunk in stream:
                if chunk:
                    self.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                if self.closed:
                    break
            self.write(b"0\r\n\r\n")
        except Exception:
            # Headers are gone already; cutting the connection is the only honest signal.
            self.close()
            return
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        if not self.closed:
            self.finish(incoming)

    def _reject(self, status: int, slug: str, detail: str) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(encode_response(problem(status, slug, detail), keep_alive=False))
        self.close()
