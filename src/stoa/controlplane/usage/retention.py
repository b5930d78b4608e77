"""Deleting usage past its retention (`STOA_USAGE__*`): raw events, per-minute rollups and
the idempotency keys of delivered batches. Daily rollups are kept.

Runs after usage intake at most every ten minutes per process (`kit.housekeeping`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models.base import utcnow
from stoa.controlplane.usage import repository
from stoa.kit.settings import UsageRetentionSettings


async def purge_old_usage(
    session: AsyncSession, retention: UsageRetentionSettings, now: datetime | None = None
) -> None:
    now = utcnow() if now is None else now
    await repository.delete_usage_before(
        session,
        events=now - timedelta(days=retention.event_retention_days),
        minute_rollups=now - timedelta(days=retention.minute_rollup_retention_days),
        batches=now - timedelta(days=retention.batch_key_retention_days),
    )
