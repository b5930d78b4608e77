"""Queries on plans and on the subscriptions that hold them."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import Plan, Subscription


async def by_name(session: AsyncSession, tenant_id: str, name: str) -> Plan | None:
    return await session.scalar(select(Plan).where(Plan.tenant_id == tenant_id, Plan.name == name))


def listing(*, tenant_id: str, requires_approval: bool | None, q: str | None) -> Select[Plan]:
    """The tenant's plans; `requires_approval` and `q` (a case-insensitive substring of the
    name or description) narrow the result."""
    statement = select(Plan).where(Plan.tenant_id == tenant_id)
    if requires_approval is not None:
        statement = statement.where(Plan.requires_approval.is_(requires_approval))
    if q:
        statement = statement.where(
            or_(
                Plan.name.icontains(q, autoescape=True),
                Plan.description.icontains(q, autoescape=True),
            )
        )
    return statement


async def subscription_counts(session: AsyncSession, plan_id: str) -> dict[str, int]:
    """How many subscriptions hold the plan, by status (statuses with none left out)."""
    statement = (
        select(Subscription.status, func.count())
        .where(Subscription.plan_id == plan_id)
        .group_by(Subscription.status)
    )
    return dict((await session.execute(statement)).all())
