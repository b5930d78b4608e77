"""Queries on applications, and on the subscriptions and keys that go with them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import ApiKey, Application, Subscription

LIVE_SUBSCRIPTION_STATUSES = ("pending", "active", "suspended")


async def by_id(session: AsyncSession, application_id: str) -> Application | None:
    return await session.get(Application, application_id)


async def by_owner_and_name(session: AsyncSession, owner_id: str, name: str) -> Application | None:
    return await session.scalar(
        select(Application).where(Application.owner_id == owner_id, Application.name == name)
    )


def listing(
    *,
    owned_by: str | None,
    of_tenant: str | None,
    owner_id: str | None,
    q: str | None,
) -> Select[Application]:
    """Applications owned by `owned_by` or belonging to `of_tenant`; both None means all.

    `owner_id` and `q` (a case-insensitive substring of the name or description) narrow
    the result further.
    """
    statement = select(Application)
    visible = []
    if owned_by is not None:
        visible.append(Application.owner_id == owned_by)
    if of_tenant is not None:
        visible.append(Application.tenant_id == of_tenant)
    if visible:
        statement = statement.where(or_(*visible))
    if owner_id is not None:
        statement = statement.where(Application.owner_id == owner_id)
    if q:
        statement = statement.where(
            or_(
                Application.name.icontains(q, autoescape=True),
                Application.description.icontains(q, autoescape=True),
            )
        )
    return statement


async def live_subscriptions(session: AsyncSession, application_id: str) -> Sequence[Subscription]:
    statement = (
        select(Subscription)
        .where(
            Subscription.application_id == application_id,
            Subscription.status.in_(LIVE_SUBSCRIPTION_STATUSES),
        )
        .order_by(Subscription.id)
    )
    return (await session.scalars(statement)).all()


async def unrevoked_keys(session: AsyncSession, application_id: str) -> Sequence[ApiKey]:
    statement = (
        select(ApiKey)
        .where(ApiKey.application_id == application_id, ApiKey.status != "revoked")
        .order_by(ApiKey.id)
    )
    return (await session.scalars(statement)).all()
