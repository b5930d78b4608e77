"""Relaying one proxied request: upstream response bytes go to the client as they arrive.

Runs from callbacks (pool hit: no coroutine at all; a new upstream connection: one task
to connect). Failures before the response head becomes a problem answer: 502 when the
upstream is unreachable or breaks, 503 while its circuit is open, 504 when it is too
slow. A failure after the head was sent can only cut the client connection.
"""

from __future__ import annotations

import time
from typing import Final

from stoa.gateway.http.body_stream import BodyStream
from stoa.gateway.http.problem import problem
from stoa.gateway.http.server import HttpConnection, Incoming
from stoa.gateway.http.wire import status_line
from stoa.gateway.proxy.breaker import CircuitBreaker
from stoa.gateway.proxy.connection import UpstreamConnection
from stoa.gateway.proxy.headers import returned_head
from stoa.gateway.proxy.pool import UpstreamError, UpstreamPool
from stoa.gateway.snapshot.compiled import UpstreamTarget
from stoa.gateway.telemetry import metrics

IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class ProxyRelay:
    __slots__ = (
        "_attempts",
        "_breaker",
        "_chunked_out",
        "_client",
        "_deadlines",
        "_extra_head",
        "_finished",
        "_head_sent",
        "_incoming",
        "_out",
        "_pool",
        "_request",
        "_response_bytes",
        "_sent_at",
        "_status",
        "_stream",
        "_stream_chunked",
        "_stream_limit",
        "_target",
        "_timeout",
        "_upstream",
        "deadline",
    )

    def __init__(
        self,
        client: HttpConnection,
        incoming: Incoming,
        pool: UpstreamPool,
        target: UpstreamTarget,
        request: bytes,
        extra_head: bytes,
        timeout: float,
        retries: int,
        *,
        body_stream: BodyStream | None = None,
        body_limit: int | None = None,
    ) -> None:
        self._client = client
        self._incoming = incoming
        self._pool = pool
        self._target = target
        self._request = request
        self._extra_head = extra_head
        self._timeout = timeout
        self._attempts = 1 + (retries if incoming.method in IDEMPOTENT else 0)
        self._breaker: CircuitBreaker = pool.breakers.for_origin(target.origin)
        self._deadlines = pool.deadlines
        self.deadline = 0.0
        self._upstream: UpstreamConnection | None = None
        self._head_sent = False
        self._chunked_out = False
        self._finished = False
        self._status = 0
        self._response_bytes = 0
        self._sent_at = 0.0
        self._out: list[bytes] = []
        # A body still arriving from the client: relayed as it comes, never retried.
        self._stream = body_stream
        self._stream_chunked = (
            body_stream is not None and not incoming.headers.get("content-length", "").isdigit()
        )
        self._stream_limit = body_limit
        if body_stream is not None:
            self._attempts = 1

    def start(self) -> None:
        if not self._breaker.allows():
            retry = max(1, round(self._breaker.retry_after()))
            metrics.UPSTREAM_FAILURES.labels("circuit_open").inc()
            self._fail_with(
                503,
                f"the upstream {self._target.origin} is failing; calls are paused for {retry} s",
                [("retry-after", str(retry))],
            )
            return
        self._client.relay = self
        self._sent_at = time.perf_counter()
        self.deadline = self._sent_at + self._timeout
        self._deadlines.add(self)
        self._attempt()

    def _attempt(self) -> None:
        self._attempts -= 1
        # A streamed body cannot be sent twice, so it never risks a pooled connection
        # that may turn out dead.
        connection = None if self._stream is not None else self._pool.take_idle(self._target)
        if connection is not None:
            self._send(connection)
        else:
            self._client.spawn(self._connect())

    async def _connect(self) -> None:
        try:
            connection = await self._pool.connect(self._target)
        except UpstreamError as error:
            if self._finished:
                return
            if self._attempts > 0:  # the upstream never saw it: retry if idempotent
                self._attempt()
                return
            self._breaker.failed()
            metrics.UPSTREAM_FAILURES.labels("connect").inc()
            self._fail_with(error.status, error.detail)
            return
        if self._finished:
            self._pool.put_back(connection)
            return
        self._send(connection)

    def _send(self, connection: UpstreamConnection) -> None:
        self._upstream = connection
        connection.send(self._request, self)
        if self._client.write_paused:
            connection.pause_reading()
        if self._stream is not None:
            self._stream.attach(self)

    # BodySink (a streamed request body)
    def on_request_body(self, chunk: bytes) -> None:
        stream, upstream = self._stream, self._upstream
        if self._finished or stream is None or upstream is None:
            return
        if self._stream_limit is not None and stream.size > self._stream_limit:
            stream.fail(f"the request body is larger than the {self._stream_limit} bytes allowed")
            return
        upstream.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if self._stream_chunked else chunk)

    def on_request_end(self) -> None:
        if self._stream_chunked and self._upstream is not None and not self._finished:
            self._upstream.write(b"0\r\n\r\n")

    def on_request_failed(self, reason: str) -> None:
        if self._finished:
            return
        self._incoming.keep_alive = False
        if self._upstream is not None:
            self._upstream.abandon()
            self._upstream = None
        if self._head_sent:
            self._finish(close=True)
        else:
            status = 413 if "larger than" in reason else 400
            self._fail_with(status, reason)

    # Relay (client side flow control)
    def pause(self) -> None:
        if self._upstream is not None:
            self._upstream.pause_reading()

    def resume(self) -> None:
        if self._upstream is not None:
            self._upstream.resume_reading()

    def cancel(self) -> None:
        """The client went away."""
        if self._finished:
            return
        self._finished = True
        self._deadlines.discard(self)
        if self._upstream is not None:
            self._upstream.abandon()
        self.finished(499, self._response_bytes, time.perf_counter() - self._sent_at)

    # ResponseSink
    def on_upstream_head(self, status: int, head: bytes) -> None:
        if self._finished:
            return
        lines, length = returned_head(head)
        self._status = status
        head_only = self._incoming.method == "HEAD"
        framing: bytes
        if head_only or status in (204, 304) or status < 200:
            framing = b"content-length: %d\r\n" % length if length is not None else b""
        elif length is not None:
            framing = b"content-length: %d\r\n" % length
        elif not self._incoming.keep_alive:
            # The connection closes after this response, which delimits the body: valid
            # for every client, HTTP/1.0 ones included (they cannot read chunked).
            framing = b""
        else:
            framing = b"transfer-encoding: chunked\r\n"
            self._chunked_out = True
        if not self._incoming.keep_alive:
            framing += b"connection: close\r\n"
        self._out.append(
            status_line(status)[:-2] + lines + b"\r\n" + self._extra_head + framing + b"\r\n"
        )
        self._head_sent = True
        if head_only:
            # The response parser would wait for a body HEAD never has: end here, and
            # close that upstream connection since its parser is out of step.
            if self._upstream is not None:
                self._upstream.abandon()
            self.on_upstream_flush()
            self._complete()

    def on_upstream_body(self, chunk: bytes) -> None:
        if self._finished:
            return
        self._response_bytes += len(chunk)
        if self._chunked_out:
            self._out.append(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        else:
            self._out.append(chunk)

    def on_upstream_flush(self) -> None:
        if self._out:
            self._client.write(b"".join(self._out))
            self._out = []

    def on_upstream_end(self) -> None:
        if self._finished:
            return
        if self._chunked_out:
            self._out.append(b"0\r\n\r\n")
        self.on_upstream_flush()
        upstream = self._upstream
        self._upstream = None
        stream = self._stream
        if stream is not None and not stream.done:
            # The upstream answered before the whole body arrived: that connection is
            # out of step, and the rest of the body has nowhere to go.
            stream.detach()
            self._incoming.keep_alive = False
            if upstream is not None:
                upstream.abandon()
        elif upstream is not None:
            self._pool.put_back(upstream)
        self._complete()

    def on_upstream_failure(self, reason: str, got_bytes: bool) -> None:
        if self._finished:
            return
        upstream, self._upstream = self._upstream, None
        if self._head_sent:
            # Part of the response is out; the client must see the cut.
            self.on_upstream_flush()
            self._finish(close=True)
            return
        if upstream is not None and upstream.reused and not got_bytes:
            # A pooled connection the upstream had closed: it never saw the request, so
            # resending is safe whatever the method, and does not count as an attempt.
            self._attempts += 1
            self._attempt()
            return
        if self._attempts > 0:  # only idempotent methods have attempts left
            self._attempt()
            return
        self._breaker.failed()
        metrics.UPSTREAM_FAILURES.labels("broken").inc()
        self._fail_with(502, f"{reason} ({self._target.origin})")

    # endings
    def finished(self, status: int, response_bytes: int, upstream_seconds: float) -> None:
        """The exchange is over (whatever the outcome): for subclasses to count it."""

    def expire(self) -> None:
        """The upstream deadline has passed (called by `Deadlines`)."""
        if self._finished:
            return
        if self._upstream is not None:
            self._upstream.abandon()
            self._upstream = None
        self._breaker.failed()
        metrics.UPSTREAM_FAILURES.labels("timeout").inc()
        if self._head_sent:
            self.on_upstream_flush()
            self._finish(close=True)
            return
        self._fail_with(
            504,
            f"the upstream {self._target.origin} did not answer within {self._timeout:g} s",
        )

    def _complete(self) -> None:
        self._breaker.succeeded()
        self._finish(close=False)

    def _finish(self, *, close: bool) -> None:
        self._finished = True
        self._detach_stream()
        self._deadlines.discard(self)
        self.finished(self._status, self._response_bytes, time.perf_counter() - self._sent_at)
        self._client.finish(self._incoming, close=close)

    def _detach_stream(self) -> None:
        if self._stream is not None:
            self._stream.detach()

    def _fail_with(
        self, status: int, detail: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self._finished = True
        self._detach_stream()
        self._deadlines.discard(self)
        self._status = status
        upstream_time = time.perf_counter() - self._sent_at if self._sent_at else 0.0
        self.finished(status, 0, upstream_time)
        answer = problem(
            status,
            {502: "bad-gateway", 503: "upstream-unavailable", 504: "gateway-timeout"}.get(
                status, "upstream-error"
            ),
            detail,
            headers=[("x-request-id", self._incoming.request_id), *(headers or [])],
            request_id=self._incoming.request_id,
        )
        self._client.relay = None
        self._client.respond(self._incoming, answer)
