"""The usage shipper against a fake control plane (httpx MockTransport)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import msgspec
import pytest

from stoa.contract.usage import MAX_EVENTS_PER_BATCH, decode_usage_batch
from stoa.gateway.usage import UsageEvent
from stoa.gateway.usage.shipper import Outcome, UsageShipper, batches_of, classify
from stoa.gateway.usage.spool import Spool
from stoa.kit.settings import Settings


def event(n: int) -> UsageEvent:
    return UsageEvent(
        at=time.time(),
        tenant_id="ten",
        application_id="app",
        subscription_id="sub",
        api_id="api",
        route=f"GET /{n}",
        status=200,
        latency_ms=1.0,
        request_bytes=0,
        response_bytes=0,
    )


class FakeControlPlane:
    """Refuses connections while `down`; records every batch key and event it takes."""

    def __init__(self) -> None:
        self.down = True
        self.attempts: list[str] = []
        self.stored: dict[str, int] = {}
        self.status = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        batch = decode_usage_batch(request.content)
        self.attempts.append(batch.id)
        assert request.headers["authorization"] == "Bearer gw-token"
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "no"})
        self.stored.setdefault(batch.id, len(batch.events))
        return httpx.Response(200, json={"batch": batch.id, "events": len(batch.events)})


def shipper_for(tmp_path: Path, plane: FakeControlPlane, pending: list[UsageEvent]) -> UsageShipper:
    settings = Settings(
        data_dir=tmp_path,
        gateway_token="gw-token",
        gateway={"usage": {"flush_seconds": 0.02, "shutdown_seconds": 2}},
    )

    def drain(limit: int) -> list[UsageEvent]:
        taken = pending[:limit]
        del pending[:limit]
        return taken

    spool = Spool.claim_free(tmp_path / "usage-spool", 1 << 20)
    client = httpx.AsyncClient(transport=httpx.MockTransport(plane.handle))
    return UsageShipper(settings, spool, client, drain=drain)


async def until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.mark.anyio
async def test_events_wait_while_the_control_plane_is_down_and_arrive_once(
    tmp_path: Path,
) -> None:
    plane = FakeControlPlane()
    pending = [event(n) for n in range(25)]
    shipper = shipper_for(tmp_path, plane, pending)
    shipper.run()
    await until(lambda: len(plane.attempts) >= 2)
    pending.extend(event(n) for n in range(25, 40))
    plane.down = False
    await until(lambda: sum(plane.stored.values()) == 40)
    await shipper.close()
    assert sum(plane.stored.values()) == 40
    # The batch tried while the control plane was down was retried under its own key.
    assert plane.attempts[0] in plane.stored


@pytest.mark.anyio
async def test_close_puts_everything_buffered_in_the_spool_when_nobody_answers(
    tmp_path: Path,
) -> None:
    plane = FakeControlPlane()
    pending: list[UsageEvent] = []
    shipper = shipper_for(tmp_path, plane, pending)
    shipper.run()
    pending.extend(event(n) for n in range(7))
    await shipper.close()
    assert plane.stored == {}
    spool = Spool.claim_free(tmp_path / "usage-spool", 1 << 20)
    spooled = 0
    while (payload := spool.peek()) is not None:
        spooled += len(decode_usage_batch(payload).events)
        spool.pop()
    spool.close()
    assert spooled == 7


@pytest.mark.anyio
async def test_a_batch_the_control_plane_calls_invalid_is_dropped_not_retried_forever(
    tmp_path: Path,
) -> None:
    plane = FakeControlPlane()
    plane.down, plane.status = False, 422
    pending = [event(1)]
    shipper = shipper_for(tmp_path, plane, pending)
    shipper.run()
    await until(lambda: len(plane.attempts) == 1)
    plane.status = 200
    pending.append(event(2))
    await until(lambda: sum(plane.stored.values()) == 1)
    await shipper.close()
    assert len(plane.attempts) == 2


def test_answers_are_classified() -> None:
    assert classify(200) is Outcome.DELIVERED
    assert classify(422) is Outcome.REJECTED
    for status in (401, 403, 404, 429, 500, 503):
        assert classify(status) is Outcome.RETRY


def test_an_event_the_control_plane_would_refuse_does_not_sink_its_batch() -> None:
    bad = msgspec.structs.replace(event(0), tenant_id="")
    encoded = batches_of([event(1), bad, event(2)], origin="test")
    assert len(encoded) == 1
    payload, count = encoded[0]
    assert count == 2
    assert [e.route for e in decode_usage_batch(payload).events] == ["GET /1", "GET /2"]


def test_many_events_are_split_into_batches_the_control_plane_accepts() -> None:
    encoded = batches_of([event(n) for n in range(MAX_EVENTS_PER_BATCH + 1)], origin="test")
    assert [count for _, count in encoded] == [MAX_EVENTS_PER_BATCH, 1]
    keys = {decode_usage_batch(payload).id for payload, _ in encoded}
    assert len(keys) == 2


@pytest.mark.anyio
async def test_a_spool_left_by_a_worker_that_is_gone_is_delivered_by_another(
    tmp_path: Path,
) -> None:
    left = Spool.claim(tmp_path / "usage-spool" / "worker-7", 1 << 20)
    for payload, _ in batches_of([event(n) for n in range(4)], origin="gone"):
        left.append(payload)
    left.close()
    plane = FakeControlPlane()
    plane.down = False
    shipper = shipper_for(tmp_path, plane, [])
    shipper.run()
    await until(lambda: sum(plane.stored.values()) == 4)
    await shipper.close()
    assert list((tmp_path / "usage-spool" / "worker-7").glob("*.seg")) == []
