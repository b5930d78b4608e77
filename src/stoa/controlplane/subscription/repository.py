"""Queries on subscriptions and on the applications, APIs and plans they join."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import Api, Application, Plan, Subscription, Tenant
from stoa.controlplane.subscription.transitions import LIVE


async def by_id(session: AsyncSession, subscription_id: str) -> Subscription | None:
    return await session.get(Subscription, subscription_id)


async def application(session: AsyncSession, application_id: str) -> Application | None:
    return await session.get(Application, application_id)


async def api_named(
    session: AsyncSession, tenant_slug: str, name: str
) -> tuple[Api, Tenant] | None:
    row = (
        await session.execute(
            select(Api, Tenant)
            .join(Tenant, Tenant.id == Api.tenant_id)
            .where(Tenant.slug == tenant_slug, Api.name == name)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def plan_named(session: AsyncSession, tenant_id: str, name: str) -> Plan | None:
    return await session.scalar(select(Plan).where(Plan.tenant_id == tenant_id, Plan.name == name))


async def plan_names(session: AsyncSession, tenant_id: str) -> Sequence[str]:
    statement = select(Plan.name).where(Plan.tenant_id == tenant_id).order_by(Plan.name)
    return (await session.scalars(statement)).all()


async def live_for(session: AsyncSession, application_id: str, api_id: str) -> Subscription | None:
    return await session.scalar(
        select(Subscription).where(
            Subscription.application_id == application_id,
            Subscription.api_id == api_id,
            Subscription.status.in_(LIVE),
        )
    )


def listing(
    *,
    owned_by: str | None,
    of_consumer_tenant: str | None,
    of_api_tenant: str | None,
    application_id: str | None,
    api_name: str | None,
    api_tenant_slug: str | None,
    status: str | None,
) -> Select[Subscription]:
    """Subscriptions of applications owned by `owned_by` or of `of_consumer_tenant`, or to
    APIs of `of_api_tenant`; all three None means every subscription. The other arguments
    narrow the result."""
    statement = (
        select(Subscription)
        .join(Application, Application.id == Subscription.application_id)
        .join(Api, Api.id == Subscription.api_id)
        .join(Tenant, Tenant.id == Subscription.tenant_id)
    )
    visible = []
    if owned_by is not None:
        visible.append(Application.owner_id == owned_by)
    if of_consumer_tenant is not None:
        visible.append(Application.tenant_id == of_consumer_tenant)
    if of_api_tenant is not None:
        visible.append(Subscription.tenant_id == of_api_tenant)
    if visible:
        statement = statement.where(or_(*visible))
    if application_id is not None:
        statement = statement.where(Subscription.application_id == application_id)
    if api_name is not None:
        statement = statement.where(Api.name == api_name)
    if api_tenant_slug is not None:
        statement = statement.where(Tenant.slug == api_tenant_slug)
    if status is not None:
        statement = statement.where(Subscription.status == status)
    return statement


async def with_details(
    session: AsyncSession, subscription_ids: Sequence[str]
) -> dict[str, tuple[Subscription, Application, Api, str, Plan]]:
    """Each subscription with its application, API, API tenant's slug and plan, by id."""
    rows = await session.execute(
        select(Subscription, Application, Api, Tenant.slug, Plan)
        .join(Application, Application.id == Subscription.application_id)
        .join(Api, Api.id == Subscription.api_id)
        .join(Tenant, Tenant.id == Subscription.tenant_id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.id.in_(subscription_ids))
    )
    return {row[0].id: (row[0], row[1], row[2], row[3], row[4]) for row in rows}
