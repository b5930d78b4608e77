"""Queries on usage batches, events and rollups.

Batches are claimed with `INSERT ... ON CONFLICT DO NOTHING` and rollups added with
`INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`: both are single statements, so
control planes sharing one database can take batches concurrently without losing or
doubling a count. PostgreSQL and SQLite both speak this dialect of upsert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, and_, delete, false, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.contract.usage import UsageRecord
from stoa.controlplane.models import Application, Tool, UsageBatch, UsageEvent, UsageRollup
from stoa.controlplane.usage import histogram

_ROLLUP_KEY = (
    "granularity",
    "bucket",
    "tenant_id",
    "application_id",
    "subscription_id",
    "api_id",
    "route",
)
_ROLLUP_SUMS = (
    "count",
    "errors",
    "server_errors",
    "latency_ms_sum",
    "request_bytes",
    "response_bytes",
    *histogram.COLUMNS,
)
# Rows per statement: PostgreSQL takes at most 32,767 bind parameters per statement.
_CHUNK = 500


def _insert(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def claim_batch(
    session: AsyncSession, *, batch_id: str, sender: str, key: str, origin: str, events: int
) -> bool:
    """Record that `sender` delivered batch `key`; False when it already had."""
    statement = (
        _insert(session, UsageBatch)
        .values(
            id=batch_id,
            sender=sender,
            batch_key=key,
            origin=origin,
            event_count=events,
            received_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing(index_elements=["sender", "batch_key"])
        .returning(UsageBatch.id)
    )
    return (await session.execute(statement)).first() is not None


async def add_events(session: AsyncSession, batch_id: str, records: Sequence[UsageRecord]) -> None:
    rows = [
        {
            "batch_id": batch_id,
            "at": datetime.fromtimestamp(record.at, UTC),
            "tenant_id": record.tenant_id,
            "application_id": record.application_id,
            "subscription_id": record.subscription_id,
            "api_id": record.api_id,
            "route": record.route,
            "status": record.status,
            "latency_ms": record.latency_ms,
            "request_bytes": record.request_bytes,
            "response_bytes": record.response_bytes,
        }
        for record in records
    ]
    for start in range(0, len(rows), _CHUNK):
        await session.execute(insert(UsageEvent), rows[start : start + _CHUNK])


async def add_to_rollups(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Add each row's sums to the stored row with the same key (created if absent)."""
    for start in range(0, len(rows), _CHUNK):
        statement: Insert = _insert(session, UsageRollup).values(list(rows[start : start + _CHUNK]))
        table = UsageRollup.__table__
        excluded = statement.excluded  # type: ignore[attr-defined]
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=list(_ROLLUP_KEY),
            set_={name: table.c[name] + excluded[name] for name in _ROLLUP_SUMS},
        )
        await session.execute(statement)


async def tool_bindings(
    session: AsyncSession, api_ids: Sequence[str]
) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(api id, tool name, binding) of every tool of these APIs."""
    statement = select(Tool.api_id, Tool.name, Tool.binding).where(Tool.api_id.in_(api_ids))
    return [(api_id, name, binding) for api_id, name, binding in await session.execute(statement)]


async def application(session: AsyncSession, application_id: str) -> Application | None:
    return await session.get(Application, application_id)


async def applications_owned_by(session: AsyncSession, user_id: str) -> list[str]:
    return list(
        await session.scalars(select(Application.id).where(Application.owner_id == user_id))
    )


@dataclass(frozen=True, slots=True)
class RollupQuery:
    """Which rows: the visibility (`all_tenants`, or `tenant_ids` / `application_ids`,
    any of which admits a row) and the filters, all ids."""

    granularity: str
    since: datetime
    until: datetime
    all_tenants: bool = False
    visible_tenant_ids: tuple[str, ...] = ()
    visible_application_ids: tuple[str, ...] = ()
    tenant_id: str | None = None
    application_id: str | None = None
    subscription_id: str | None = None
    api_id: str | None = None
    route: str | None = None


async def rollups(session: AsyncSession, query: RollupQuery, limit: int) -> list[UsageRollup]:
    """Up to `limit` rows matching `query`, oldest bucket first."""
    rollup = UsageRollup
    conditions: list[ColumnElement[bool]] = [
        rollup.granularity == query.granularity,
        rollup.bucket >= query.since,
        rollup.bucket < query.until,
    ]
    if not query.all_tenants:
        visible: list[ColumnElement[bool]] = []
        if query.visible_tenant_ids:
            visible.append(rollup.tenant_id.in_(query.visible_tenant_ids))
        if query.visible_application_ids:
            visible.append(rollup.application_id.in_(query.visible_application_ids))
        conditions.append(or_(*visible) if visible else false())
    for column, wanted in (
        (rollup.tenant_id, query.tenant_id),
        (rollup.application_id, query.application_id),
        (rollup.subscription_id, query.subscription_id),
        (rollup.api_id, query.api_id),
        (rollup.route, query.route),
    ):
        if wanted is not None:
            conditions.append(column == wanted)
    statement = (
        select(rollup)
        .where(and_(*conditions))
        .order_by(
            rollup.bucket,
            rollup.tenant_id,
            rollup.api_id,
            rollup.application_id,
            rollup.subscription_id,
            rollup.route,
        )
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def delete_usage_before(
    session: AsyncSession, *, events: datetime, minute_rollups: datetime, batches: datetime
) -> None:
    """Delete raw events of calls before `events`, minute rollups before `minute_rollups`
    and batches received before `batches`, with whatever events they still hold."""
    await session.execute(delete(UsageEvent).where(UsageEvent.at < events))
    await session.execute(
        delete(UsageRollup).where(
            UsageRollup.granularity == "minute", UsageRollup.bucket < minute_rollups
        )
    )
    # Explicitly, not by the foreign key's cascade: SQLite does not cascade by default.
    forgotten = select(UsageBatch.id).where(UsageBatch.received_at < batches)
    await session.execute(delete(UsageEvent).where(UsageEvent.batch_id.in_(forgotten)))
    await session.execute(delete(UsageBatch).where(UsageBatch.id.in_(forgotten)))
