"""Usage past its retention is deleted after usage intake: raw events, minute rollups and
old batch keys go; daily rollups, and so the long-range charts, stay. On SQLite and
PostgreSQL. A freshly started control plane runs the job on its first intake (the test's
own control plane may already have run it, earlier or during this test)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update
from test_usage_api import batch, event

from stoa.controlplane.app import create_app
from stoa.controlplane.models import UsageBatch, UsageEvent, UsageRollup
from support.oauth import execute_statement
from support.seed_consumer import rows
from support.servers import ServerThread
from support.world import World

NOW = datetime.now(UTC)


def _count(world: World, *where: object) -> int:
    return int(rows(world, select(func.count()).select_from(UsageEvent).where(*where))[0])


def _minute_buckets(world: World) -> list[datetime]:
    return sorted(
        rows(world, select(UsageRollup.bucket).where(UsageRollup.granularity == "minute"))
    )


def test_usage_past_its_retention_is_deleted_and_daily_rollups_stay(world: World) -> None:
    admin = world.platform_admin()
    old, recent = (NOW - timedelta(days=20)).timestamp(), (NOW - timedelta(hours=1)).timestamp()
    old_batch = batch(event(at=old), event(at=old), key="oldbatch" + uuid.uuid4().hex[:8])
    for body in (old_batch, batch(event(at=recent))):
        assert admin.post("/v1/internal/usage", json=body).status_code == 200
    # The old batch arrived 40 days ago: past the 35 days its key is remembered.
    execute_statement(
        world,
        update(UsageBatch)
        .where(UsageBatch.batch_key == old_batch["id"])
        .values(received_at=NOW - timedelta(days=40)),
    )
    day_window = {"granularity": "day", "from": (NOW - timedelta(days=30)).isoformat()}
    assert admin.get("/v1/usage", params=day_window).json()["total"]["count"] == 3

    fresh = ServerThread(create_app(world.settings)).start()
    try:
        auth = {"Authorization": f"Bearer {admin.token}"}
        with httpx.Client(base_url=fresh.url, headers=auth) as client:
            assert client.post("/v1/internal/usage", json=batch(event(at=recent))).is_success
            deadline = time.monotonic() + 20
            while _count(world) != 2:
                assert time.monotonic() < deadline, f"events left: {_count(world)}"
                time.sleep(0.1)
    finally:
        fresh.stop()

    assert _count(world, UsageEvent.at < NOW - timedelta(days=7)) == 0
    assert [bucket.date() for bucket in _minute_buckets(world)] == [
        datetime.fromtimestamp(recent, UTC).date()
    ]
    # Daily rollups are kept: the long-range total still counts every call.
    assert admin.get("/v1/usage", params=day_window).json()["total"]["count"] == 4
    # A forgotten batch key counts again if the batch comes back (the documented limit).
    again = admin.post("/v1/internal/usage", json=old_batch)
    assert again.json()["duplicate"] is False
