"""Queries on APIs, their tools, and what the consumer catalog shows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.catalog.lifecycle import LIVE as LIVE_LIFECYCLES
from stoa.controlplane.models import Api, Plan, Subscription, Tenant, Tool
from stoa.controlplane.subscription.transitions import LIVE as LIVE_SUBSCRIPTIONS


async def api_named(session: AsyncSession, tenant_id: str, name: str) -> Api | None:
    return await session.scalar(select(Api).where(Api.tenant_id == tenant_id, Api.name == name))


def _matching(statement: Select[Api], q: str | None) -> Select[Api]:
    if q is None:
        return statement
    return statement.where(
        or_(Api.name.icontains(q, autoescape=True), Api.title.icontains(q, autoescape=True))
    )


def api_listing(
    tenant_id: str,
    *,
    kind: str | None,
    lifecycle: str | None,
    visibility: str | None,
    q: str | None,
) -> Select[Api]:
    statement = select(Api).where(Api.tenant_id == tenant_id)
    if kind is not None:
        statement = statement.where(Api.kind == kind)
    if lifecycle is not None:
        statement = statement.where(Api.lifecycle == lifecycle)
    if visibility is not None:
        statement = statement.where(Api.visibility == visibility)
    return _matching(statement, q)


async def tool_counts(session: AsyncSession, api_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(total, enabled) tool counts by API id; APIs without tools are absent."""
    rows = await session.execute(
        select(
            Tool.api_id,
            func.count(Tool.id),
            func.coalesce(func.sum(case((Tool.enabled.is_(True), 1), else_=0)), 0),
        )
        .where(Tool.api_id.in_(api_ids))
        .group_by(Tool.api_id)
    )
    return {api_id: (int(total), int(enabled)) for api_id, total, enabled in rows}


async def tools_of(session: AsyncSession, api_id: str) -> Sequence[Tool]:
    """Every tool of the API, oldest first."""
    statement = select(Tool).where(Tool.api_id == api_id).order_by(Tool.id)
    return (await session.scalars(statement)).all()


def tool_listing(api_id: str, *, enabled: bool | None) -> Select[Tool]:
    statement = select(Tool).where(Tool.api_id == api_id)
    if enabled is not None:
        statement = statement.where(Tool.enabled.is_(enabled))
    return statement


async def tool_named(session: AsyncSession, api_id: str, name: str) -> Tool | None:
    return await session.scalar(select(Tool).where(Tool.api_id == api_id, Tool.name == name))


async def live_subscription_count(session: AsyncSession, api_id: str) -> int:
    """Pending, active and suspended subscriptions to the API."""
    count = await session.scalar(
        select(func.count(Subscription.id)).where(
            Subscription.api_id == api_id, Subscription.status.in_(LIVE_SUBSCRIPTIONS)
        )
    )
    return int(count or 0)


def catalog_listing(
    *,
    visible_to_tenant: str | None,
    everything: bool,
    kind: str | None,
    q: str | None,
    tenant_slug: str | None,
) -> Select[Api]:
    """Live APIs (published or deprecated) of active tenants that are public, or of the
    tenant `visible_to_tenant`; of every visibility when `everything`."""
    statement = (
        select(Api)
        .join(Tenant, Tenant.id == Api.tenant_id)
        .where(Tenant.status == "active", Api.lifecycle.in_(LIVE_LIFECYCLES))
    )
    if not everything:
        offered = Api.visibility == "public"
        if visible_to_tenant is not None:
            offered = or_(offered, Api.tenant_id == visible_to_tenant)
        statement = statement.where(offered)
    if kind is not None:
        statement = statement.where(Api.kind == kind)
    if tenant_slug is not None:
        statement = statement.where(Tenant.slug == tenant_slug)
    return _matching(statement, q)


async def catalog_api(
    session: AsyncSession,
    *,
    visible_to_tenant: str | None,
    everything: bool,
    tenant_slug: str,
    name: str,
) -> Api | None:
    """The API `tenant_slug`/`name` if `catalog_listing` would list it."""
    statement = catalog_listing(
        visible_to_tenant=visible_to_tenant,
        everything=everything,
        kind=None,
        q=None,
        tenant_slug=tenant_slug,
    )
    return await session.scalar(statement.where(Api.name == name))


async def tenant_slugs(session: AsyncSession, tenant_ids: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id.in_(tenant_ids)))
    return {row[0]: row[1] for row in rows}


async def enabled_tools(session: AsyncSession, api_ids: Sequence[str]) -> Sequence[Tool]:
    statement = (
        select(Tool)
        .where(Tool.api_id.in_(api_ids), Tool.enabled.is_(True))
        .order_by(Tool.api_id, Tool.name)
    )
    return (await session.scalars(statement)).all()


async def plans_of(session: AsyncSession, tenant_ids: Sequence[str]) -> Sequence[Plan]:
    statement = select(Plan).where(Plan.tenant_id.in_(tenant_ids)).order_by(Plan.name)
    return (await session.scalars(statement)).all()
