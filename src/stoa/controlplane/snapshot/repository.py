"""The live configuration, read in a few set-based queries.

The queries select the columns the snapshot needs, never whole ORM objects: a large
snapshot reads hundreds of thousands of rows, and an ORM instance per row costs several
times more than the query. Rows are unpacked, or read by column name (`row.id`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Row, Select, Text, cast, func, or_, select
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


def _live_api_ids(tenant_ids: Sequence[str]) -> Select[str]:
    # A subquery rather than a list of ids: ten thousand bound parameters cost more to
    # compile and send than the database spends on the join.
    return select(Api.id).where(Api.lifecycle.in_(LIVE_LIFECYCLES), Api.tenant_id.in_(tenant_ids))


async def live_apis(
    session: AsyncSession, tenant_ids: Sequence[str]
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Live APIs of `tenant_ids`, by id: id, tenant_id, name, kind, lifecycle,
    visibility, backend_url, mcp_url, upstream_auth_location, upstream_auth_name,
    upstream_auth_secret."""
    statement = (
        select(
            Api.id,
            Api.tenant_id,
            Api.name,
            Api.kind,
            Api.lifecycle,
            Api.visibility,
            Api.backend_url,
            Api.mcp_url,
            Api.upstream_auth_location,
            Api.upstream_auth_name,
            Api.upstream_auth_secret,
        )
        .where(Api.lifecycle.in_(LIVE_LIFECYCLES), Api.tenant_id.in_(tenant_ids))
        .order_by(Api.id)
    )
    return (await session.execute(statement)).all()


def _json_value(text: str | None) -> Any:
    # msgspec parses JSON about five times faster than the json module, which is what the
    # column type would use; the few documents it refuses (numbers beyond 64 bits or a
    # double, lone surrogates) go to the json module, so the values are the same.
    if text is None:
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


async def enabled_tools(
    session: AsyncSession, tenant_ids: Sequence[str]
) -> list[tuple[str, str, str, Any, Any, Any, Any]]:
    """(api_id, name, description, input_schema, output_schema, annotations, binding) of
    the enabled tools of the live APIs of `tenant_ids`, by API then name."""
    statement = (
        select(
            Tool.api_id,
            Tool.name,
            Tool.description,
            # As text, parsed below: most of a large snapshot's bytes are these documents.
            cast(Tool.input_schema, Text),
            cast(Tool.output_schema, Text),
            cast(Tool.annotations, Text),
            cast(Tool.binding, Text),
        )
        .where(Tool.api_id.in_(_live_api_ids(tenant_ids)), Tool.enabled.is_(True))
        .order_by(Tool.api_id, Tool.name)
    )
    return [
        (
            api_id,
            name,
            description,
            _json_value(input_schema),
            _json_value(output_schema),
            _json_value(hints),
            _json_value(binding),
        )
        for api_id, name, description, input_schema, output_schema, hints, binding in (
            await session.execute(statement)
        )
    ]


async def plans(session: AsyncSession, tenant_ids: Sequence[str]) -> Sequence[Plan]:
    statement = select(Plan).where(Plan.tenant_id.in_(tenant_ids)).order_by(Plan.id)
    return (await session.scalars(statement)).all()


async def live_applications(
    session: AsyncSession, tenant_ids: Sequence[str]
) -> Sequence[Row[str, str, str | None]]:
    """(id, owner_id, tenant_id) of applications whose owner is active and whose tenant is
    active (or none: platform)."""
    statement = (
        select(Application.id, Application.owner_id, Application.tenant_id)
        .join(User, User.id == Application.owner_id)
        .where(
            User.status == "active",
            or_(Application.tenant_id.is_(None), Application.tenant_id.in_(tenant_ids)),
        )
        .order_by(Application.id)
    )
    return (await session.execute(statement)).all()


async def active_subscriptions(
    session: AsyncSession,
) -> Sequence[Row[str, str, str, str]]:
    """(id, application_id, api_id, plan_id) of active subscriptions."""
    statement = (
        select(
            Subscription.id, Subscription.application_id, Subscription.api_id, Subscription.plan_id
        )
        .where(Subscription.status == "active")
        .order_by(Subscription.id)
    )
    return (await session.execute(statement)).all()


async def usable_keys(
    session: AsyncSession, now: datetime
) -> Sequence[Row[str, str, str, datetime | None]]:
    """(id, application_id, digest, expires_at) of keys that are active and unexpired."""
    statement = (
        select(ApiKey.id, ApiKey.application_id, ApiKey.digest, ApiKey.expires_at)
        .where(
            ApiKey.status == "active",
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
        .order_by(ApiKey.id)
    )
    return (await session.execute(statement)).all()


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
