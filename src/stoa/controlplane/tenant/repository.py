"""Queries on tenants."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import Tenant


async def by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return await session.scalar(select(Tenant).where(Tenant.slug == slug))


def listing(*, only_id: str | None, status: str | None) -> Select[Tenant]:
    statement = select(Tenant)
    if only_id is not None:
        statement = statement.where(Tenant.id == only_id)
    if status is not None:
        statement = statement.where(Tenant.status == status)
    return statement
