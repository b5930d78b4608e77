"""The live configuration, read in a few set-based queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import (
    Api,
    ApiKey,
    Application,
    AuditChainHead,
    Plan,
    Policy,
    Subscription,
    Tenant,
    Tool,
    User,
)

LIVE_LIFECYCLES = ("published", "deprecated")


async def active_tenants(session: AsyncSession) -> dict[str, str]:
    """Active tenants' ids mapped to their slugs."""
    rows = await session.execute(select(Tenant.id, Tenant.slug).where(Tenant.status == "active"))
    return {row[0]: row[1] for row in rows}


async def live_apis(session: AsyncSession, tenant_ids: Sequence[str]) -> Sequence[Api]:
    statement = (
        select(Api)
        .where(Api.lifecycle.in_(LIVE_LIFECYCLES), Api.tenant_id.in_(tenant_ids))
        .order_by(Api.id)
    )
    return (await session.scalars(statement)).all()


async def enabled_tools(session: AsyncSession, api_ids: Sequence[str]) -> Sequence[Tool]:
    statement = (
        select(Tool)
        .where(Tool.api_id.in_(api_ids), Tool.enabled.is_(True))
        .order_by(Tool.api_id, Tool.name)
    )
    return (await session.scalars(statement)).all()


async def plans(session: AsyncSession, tenant_ids: Sequence[str]) -> Sequence[Plan]:
    statement = select(Plan).where(Plan.tenant_id.in_(tenant_ids)).order_by(Plan.id)
    return (await session.scalars(statement)).all()


async def live_applications(
    session: AsyncSession, tenant_ids: Sequence[str]
) -> Sequence[Application]:
    """Applications whose owner is active and whose tenant is active (or none: platform)."""
    statement = (
        select(Application)
        .join(User, User.id == Application.owner_id)
        .where(
            User.status == "active",
            or_(Application.tenant_id.is_(None), Application.tenant_id.in_(tenant_ids)),
        )
        .order_by(Application.id)
    )
    return (await session.scalars(statement)).all()


async def active_subscriptions(session: AsyncSession) -> Sequence[Subscription]:
    statement = (
        select(Subscription).where(Subscription.status == "active").order_by(Subscription.id)
    )
    return (await session.scalars(statement)).all()


async def usable_keys(session: AsyncSession, now: datetime) -> Sequence[ApiKey]:
    statement = (
        select(ApiKey)
        .where(
            ApiKey.status == "active",
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
        .order_by(ApiKey.id)
    )
    return (await session.scalars(statement)).all()


async def enabled_policies(session: AsyncSession, tenant_ids: Sequence[str]) -> Sequence[Policy]:
    statement = (
        select(Policy)
        .where(Policy.enabled.is_(True), Policy.tenant_id.in_(tenant_ids))
        .order_by(Policy.id)
    )
    return (await session.scalars(statement)).all()


async def config_revision(session: AsyncSession) -> tuple[int, int]:
    """A marker that moves with every audited mutation: the audit chains' count and the
    sum of their heads' sequence numbers (heads only grow)."""
    row = (
        await session.execute(select(func.count(), func.coalesce(func.sum(AuditChainHead.seq), 0)))
    ).one()
    return int(row[0]), int(row[1])
