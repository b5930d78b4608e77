"""Queries on the audit tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit.chain import GENESIS_HASH
from stoa.controlplane.models import AuditChainHead, AuditEntry, Tenant


async def lock_chain_head(session: AsyncSession, chain: str) -> AuditChainHead:
    """The chain's head row, locked until the transaction ends (created if new).

    The insert-if-absent cannot fail on a race: a concurrent creator makes it a no-op, and
    the locking read then waits for that creator's transaction.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(AuditChainHead)
        .values(chain=chain, seq=0, last_hash=GENESIS_HASH)
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    head = await session.scalar(
        select(AuditChainHead)
        .where(AuditChainHead.chain == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert head is not None
    return head


def filtered_entries(
    *,
    tenant_ids: list[str | None] | None,
    actor_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[AuditEntry]:
    """Entries matching the filters; `tenant_ids` None means every tenant (platform view)."""
    statement = select(AuditEntry)
    if tenant_ids is not None:
        real = [t for t in tenant_ids if t is not None]
        condition: ColumnElement[bool] = AuditEntry.tenant_id.in_(real)
        if None in tenant_ids:
            condition = condition | AuditEntry.tenant_id.is_(None)
        statement = statement.where(condition)
    if actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == actor_id)
    if target_type is not None:
        statement = statement.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        statement = statement.where(AuditEntry.target_id == target_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.at < until)
    return statement


async def chain_entries(
    session: AsyncSession, chain: str, batch: int = 500
) -> AsyncIterator[AuditEntry]:
    """Every entry of a chain in `seq` order, fetched in batches."""
    last = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.chain == chain, AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
        ).all()
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        last = rows[-1].seq


async def chain_heads(session: AsyncSession, chains: list[str] | None) -> list[AuditChainHead]:
    statement = select(AuditChainHead).order_by(AuditChainHead.chain)
    if chains is not None:
        statement = statement.where(AuditChainHead.chain.in_(chains))
    return list((await session.scalars(statement)).all())


async def newest_first(
    session: AsyncSession, statement: Select[AuditEntry], *, limit: int, before_id: str | None
) -> tuple[list[AuditEntry], str | None]:
    """A page of `statement`, newest first: keyset on id descending (ids sort by creation
    time). Returns the rows and the cursor for the next (older) page, or None."""
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    rows = list(
        (await session.scalars(statement.order_by(AuditEntry.id.desc()).limit(limit + 1))).all()
    )
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1].id
    return rows, None


async def oldest_first_batch(
    session: AsyncSession, statement: Select[AuditEntry], *, after_id: str | None, size: int
) -> list[AuditEntry]:
    """Up to `size` rows of `statement` with an id above `after_id`, oldest first."""
    if after_id is not None:
        statement = statement.where(AuditEntry.id > after_id)
    return list((await session.scalars(statement.order_by(AuditEntry.id).limit(size))).all())


async def tenant_slugs(session: AsyncSession, tenant_ids: list[str]) -> dict[str, str]:
    """Slugs of the tenants that still exist among `tenant_ids`."""
    if not tenant_ids:
        return {}
    rows = await session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id.in_(tenant_ids)))
    return {row[0]: row[1] for row in rows}
