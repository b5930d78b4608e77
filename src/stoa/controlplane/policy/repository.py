"""Queries on policies and on the APIs and plans they target."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import Api, Plan, Policy


async def by_name(session: AsyncSession, tenant_id: str, name: str) -> Policy | None:
    return await session.scalar(
        select(Policy).where(Policy.tenant_id == tenant_id, Policy.name == name)
    )


async def api_named(session: AsyncSession, tenant_id: str, name: str) -> Api | None:
    return await session.scalar(select(Api).where(Api.tenant_id == tenant_id, Api.name == name))


async def plan_named(session: AsyncSession, tenant_id: str, name: str) -> Plan | None:
    return await session.scalar(select(Plan).where(Plan.tenant_id == tenant_id, Plan.name == name))


async def api_names(session: AsyncSession, api_ids: Collection[str]) -> dict[str, str]:
    if not api_ids:
        return {}
    rows = await session.execute(select(Api.id, Api.name).where(Api.id.in_(api_ids)))
    return dict(rows.all())


async def plan_names(session: AsyncSession, plan_ids: Collection[str]) -> dict[str, str]:
    if not plan_ids:
        return {}
    rows = await session.execute(select(Plan.id, Plan.name).where(Plan.id.in_(plan_ids)))
    return dict(rows.all())


def listing(
    *,
    tenant_id: str,
    kind: str | None,
    target_type: str | None,
    target_id: str | None,
    enabled: bool | None,
) -> Select[Policy]:
    """The tenant's policies; the other arguments, when given, narrow the result."""
    statement = select(Policy).where(Policy.tenant_id == tenant_id)
    if kind is not None:
        statement = statement.where(Policy.kind == kind)
    if target_type is not None:
        statement = statement.where(Policy.target_type == target_type)
    if target_id is not None:
        statement = statement.where(Policy.target_id == target_id)
    if enabled is not None:
        statement = statement.where(Policy.enabled.is_(enabled))
    return statement


async def attached_to(
    session: AsyncSession, tenant_id: str, target_type: str, target_id: str
) -> Sequence[Policy]:
    statement = (
        select(Policy)
        .where(
            Policy.tenant_id == tenant_id,
            Policy.target_type == target_type,
            Policy.target_id == target_id,
        )
        .order_by(Policy.id)
    )
    return (await session.scalars(statement)).all()
