"""Shipping one worker's usage events to the control plane, through its on-disk spool.

Every `flush_seconds` the buffer is drained into batches, each under a new idempotency
key, and every batch is appended to the worker's spool (fsynced) before anything is
sent. A second task sends the spool's batches oldest first to
`POST $STOA_CONTROL_PLANE_URL/v1/internal/usage` and removes each one the control plane
confirms. So:

- SIGKILL loses only the events still in the buffer: at most one flush interval's;
- while the control plane is unreachable the spool grows (up to its bound, see
  `spool.py`), and when it answers again the backlog goes out in order;
- a batch sent but not confirmed (timeout, crash) is sent again under the same key, and
  the control plane counts it once;
- SIGTERM (`close`) drains the buffer into the spool, then sends what it can within
  `shutdown_seconds`; the rest waits on disk for the next start.

Spool I/O runs on one dedicated thread, never on the event loop (an fsync can take
milliseconds), and in submission order, which is what keeps it consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import Any, TypeVar

import httpx
import msgspec

from stoa.contract.usage import (
    MAX_EVENTS_PER_BATCH,
    MAX_ROUTE_LENGTH,
    SCHEMA_VERSION,
    UsageBatch,
    UsageBatchError,
    UsageRecord,
    decode_usage_batch,
    encode_usage_batch,
)
from stoa.gateway import usage
from stoa.gateway.usage import shipping_metrics as metrics
from stoa.gateway.usage.spool import Spool, SpoolLocked
from stoa.kit.settings import Settings

_log = logging.getLogger("stoa.gateway.usage")
_T = TypeVar("_T")
SPOOL_DIRECTORY = "usage-spool"
_BACKOFF_FIRST, _BACKOFF_MAX = 0.25, 5.0
_ORPHAN_CHECK_SECONDS = 30.0


class Outcome(Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # the control plane will never take it: drop it
    RETRY = "retry"


class _Counted(msgspec.Struct):
    events: list[msgspec.Raw]


def batches_of(events: list[usage.UsageEvent], origin: str) -> list[tuple[bytes, int]]:
    """The encoded batches (and their event counts) carrying `events`, each under a new
    idempotency key."""
    encoded: list[tuple[bytes, int]] = []
    for start in range(0, len(events), MAX_EVENTS_PER_BATCH):
        chunk = events[start : start + MAX_EVENTS_PER_BATCH]
        records = [
            UsageRecord(
                at=event.at,
                tenant_id=event.tenant_id,
                application_id=event.application_id,
                subscription_id=event.subscription_id,
                api_id=event.api_id,
                route=event.route[:MAX_ROUTE_LENGTH],
                status=event.status,
                latency_ms=max(0.0, event.latency_ms),
                request_bytes=max(0, event.request_bytes),
                response_bytes=max(0, event.response_bytes),
            )
            for event in chunk
        ]
        batch = UsageBatch(
            schema_version=SCHEMA_VERSION, id=uuid.uuid4().hex, events=records, origin=origin
        )
        payload = encode_usage_batch(batch)
        try:
            # What the control plane will check; one bad event must not sink the batch.
            decode_usage_batch(payload)
        except UsageBatchError:
            valid = [r for r in records if _acceptable(r)]
            metrics.LOST_EVENTS.labels("invalid").inc(len(records) - len(valid))
            if not valid:
                continue
            batch = msgspec.structs.replace(batch, events=valid)
            payload = encode_usage_batch(batch)
        encoded.append((payload, len(batch.events)))
    return encoded


def _acceptable(record: UsageRecord) -> bool:
    """Whether the control plane would take `record` (see the contract's constraints)."""
    try:
        msgspec.json.decode(msgspec.json.encode(record), type=UsageRecord)
    except msgspec.ValidationError:
        return False
    return True


def classify(status: int) -> Outcome:
    """What an answer means for the batch: 2xx delivered; 400, 413 and 422 mean the
    batch itself is wrong and will never be taken; anything else (401/403 until the
    token is fixed, 404 from an older control plane, 429, 5xx) is worth retrying."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in (400, 413, 422):
        return Outcome.REJECTED
    return Outcome.RETRY


def _events_in(payload: bytes) -> int:
    try:
        return len(msgspec.json.decode(payload, type=_Counted).events)
    except msgspec.MsgspecError:
        return 0


class UsageShipper:
    """Drains `usage.buffer` into `spool` and sends the spool to the control plane."""

    def __init__(
        self,
        settings: Settings,
        spool: Spool,
        client: httpx.AsyncClient,
        *,
        drain: Callable[[int], list[usage.UsageEvent]] = usage.drain,
        origin: str = "",
    ) -> None:
        shipping = settings.gateway.usage
        self._flush_seconds = shipping.flush_seconds
        self._timeout = shipping.timeout_seconds
        self._shutdown_seconds = shipping.shutdown_seconds
        self._url = settings.control_plane_url.rstrip("/") + "/v1/internal/usage"
        token = settings.gateway_token.get_secret_value() if settings.gateway_token else ""
        self._headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        self._spool = spool
        self._client = client
        self._drain = drain
        self._origin = origin
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stoa-usage-spool")
        self._queued = asyncio.Event()
        self._stopping = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._spool_full = False
        self._unreachable = False
        self._corrupt_seen = 0

    @classmethod
    def start(cls, settings: Settings) -> UsageShipper:
        """Claim a spool directory under `$STOA_DATA_DIR/usage-spool` and start shipping."""
        root = settings.data_dir / SPOOL_DIRECTORY
        spool = Spool.claim_free(root, settings.gateway.usage.spool_max_bytes)
        client = httpx.AsyncClient(timeout=settings.gateway.usage.timeout_seconds)
        origin = f"{socket.gethostname()}/{spool.directory.name}/{os.getpid()}"
        shipper = cls(settings, spool, client, origin=origin)
        shipper.run()
        return shipper

    def run(self) -> None:
        """Start the flush and delivery tasks on the running loop."""
        self._flusher = asyncio.create_task(self._flush_loop(), name="usage-flush")
        self._sender = asyncio.create_task(self._deliver_loop(), name="usage-deliver")

    async def close(self) -> None:
        """Stop; everything buffered ends up in the spool or at the control plane."""
        self._stopping.set()
        self._queued.set()  # wakes the sender if it waits for work
        if self._flusher is not None:
            await self._flusher  # its last round drains the buffer
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        await self.flush()
        deadline = time.monotonic() + self._shutdown_seconds
        while time.monotonic() < deadline:
            payload = await self._on_spool(self._spool.peek)
            if payload is None:
                break
            remaining = max(0.1, deadline - time.monotonic())
            outcome = await self._send(payload, limit=min(self._timeout, remaining))
            if outcome is Outcome.RETRY:
                break
            await self._on_spool(self._spool.pop)
        await self._on_spool(lambda: None)  # every submitted spool operation is done
        self._io.shutdown(wait=True)
        metrics.SPOOL_BYTES.set(self._spool.size_bytes)
        self._spool.close()
        await self._client.aclose()

    async def flush(self) -> None:
        """Move every buffered event into the spool."""
        while True:
            events = self._drain(MAX_EVENTS_PER_BATCH * 10)
            if not events:
                return
            for payload, count in batches_of(events, self._origin):
                await self._queue(payload, count)

    async def _queue(self, payload: bytes, count: int) -> None:
        try:
            appended = await self._on_spool(self._spool.append, payload)
        except OSError as exc:
            metrics.LOST_EVENTS.labels("disk_error").inc(count)
            _log.error("usage spool cannot be written, %d events lost: %s", count, exc)
            return
        if appended:
            if self._spool_full:
                _log.warning("usage spool has room again")
                self._spool_full = False
            self._queued.set()
        else:
            metrics.LOST_EVENTS.labels("spool_full").inc(count)
            if not self._spool_full:
                _log.warning(
                    "usage spool %s is full; new usage events are dropped until the "
                    "control plane takes the queued ones",
                    self._spool.directory,
                )
                self._spool_full = True
        metrics.SPOOL_BYTES.set(self._spool.size_bytes)

    async def _flush_loop(self) -> None:
        # Stopped by `_stopping`, never cancelled: a flush cut short would lose the events
        # it had drained but not yet spooled.
        while not self._stopping.is_set():
            await _wait(self._stopping, self._flush_seconds)
            try:
                await self.flush()
            except Exception:
                _log.exception("usage flush failed; trying again next interval")

    async def _deliver_loop(self) -> None:
        backoff = _BACKOFF_FIRST
        next_orphan_check = 0.0
        # Ends when `_stopping` is set (checked, not only cancelled: asyncio.wait_for in
        # Python 3.11 can swallow a cancellation that races with its result).
        while not self._stopping.is_set():
            try:
                delivered = await self._deliver_one(next_orphan_check)
            except OSError as exc:
                # The spool could not be read: keep trying, it may be a passing disk error.
                _log.error("usage spool cannot be read: %s", exc)
                delivered = False
            if delivered is None:  # the spool is empty (and orphans were looked at)
                next_orphan_check = max(next_orphan_check, time.monotonic() + _ORPHAN_CHECK_SECONDS)
                await _wait(self._queued, _ORPHAN_CHECK_SECONDS)
            elif delivered:
                backoff = _BACKOFF_FIRST
            else:
                await _wait(self._stopping, backoff * random.uniform(0.5, 1.0))  # noqa: S311
                backoff = min(_BACKOFF_MAX, backoff * 2)

    async def _deliver_one(self, next_orphan_check: float) -> bool | None:
        """Send the oldest spooled batch: True when it is off the spool, False when it must
        be tried again later, None when there was nothing to send."""
        self._queued.clear()
        payload = await self._on_spool(self._spool.peek)
        self._count_corrupt()
        if payload is None:
            if time.monotonic() >= next_orphan_check:
                await self._empty_orphans()
            return None
        if await self._send(payload, limit=self._timeout) is Outcome.RETRY:
            return False
        await self._on_spool(self._spool.pop)
        metrics.SPOOL_BYTES.set(self._spool.size_bytes)
        return True

    async def _send(self, payload: bytes, *, limit: float) -> Outcome:
        """POST one batch; `limit` seconds for the whole exchange."""
        try:
            response = await self._client.post(
                self._url, content=payload, headers=self._headers, timeout=limit
            )
        except httpx.HTTPError as exc:
            self._failed(f"cannot reach the control plane: {type(exc).__name__}")
            return Outcome.RETRY
        outcome = classify(response.status_code)
        if outcome is Outcome.RETRY:
            self._failed(f"the control plane answered {response.status_code}")
            return outcome
        if self._unreachable:
            _log.warning("control plane takes usage again; sending the spooled batches")
            self._unreachable = False
        if outcome is Outcome.REJECTED:
            count = _events_in(payload)
            metrics.LOST_EVENTS.labels("rejected").inc(count)
            _log.error(
                "control plane refused a usage batch of %d events (%d): %s",
                count,
                response.status_code,
                response.text[:500],
            )
        else:
            metrics.SHIPPED_EVENTS.inc(_confirmed(response))
        return outcome

    def _failed(self, why: str) -> None:
        metrics.DELIVERY_FAILURES.inc()
        if not self._unreachable:
            _log.warning("usage stays in the spool until the control plane answers: %s", why)
            self._unreachable = True

    async def _empty_orphans(self) -> None:
        """Send the batches of spool directories no live worker holds (left by workers
        that are gone, after the worker count went down)."""
        root = self._spool.directory.parent
        for directory in sorted(root.glob("worker-*")):
            if directory == self._spool.directory or not any(directory.glob("*.seg")):
                continue
            try:
                orphan = await self._on_spool(Spool.claim, directory, self._spool.max_bytes)
            except SpoolLocked:
                continue
            try:
                while (payload := await self._on_spool(orphan.peek)) is not None:
                    if await self._send(payload, limit=self._timeout) is Outcome.RETRY:
                        return
                    await self._on_spool(orphan.pop)
            finally:
                await self._on_spool(orphan.close)

    def _count_corrupt(self) -> None:
        seen = self._spool.corrupt_records
        if seen > self._corrupt_seen:
            metrics.CORRUPT_RECORDS.inc(seen - self._corrupt_seen)
            _log.warning("skipped %d unreadable usage spool records", seen - self._corrupt_seen)
            self._corrupt_seen = seen

    async def _on_spool(self, operation: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._io, operation, *args)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` have passed, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


def _confirmed(response: httpx.Response) -> int:
    try:
        events = response.json().get("events", 0)
    except ValueError:
        return 0
    return events if isinstance(events, int) else 0
