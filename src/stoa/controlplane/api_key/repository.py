"""Queries on API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import ApiKey


async def by_id(session: AsyncSession, application_id: str, key_id: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.application_id == application_id)
    )


def _in_state(state: str, now: datetime) -> ColumnElement[bool]:
    """The SQL form of `service.key_state(key, now) == state`."""
    not_revoked = ApiKey.status != "revoked"
    unexpired = or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now)
    if state == "revoked":
        return ApiKey.status == "revoked"
    if state == "expired":
        return and_(not_revoked, ApiKey.expires_at <= now)
    if state == "rotating":
        return and_(not_revoked, unexpired, ApiKey.replaced_by_id.is_not(None))
    return and_(not_revoked, unexpired, ApiKey.replaced_by_id.is_(None))


def listing(application_id: str, *, state: str | None, now: datetime) -> Select[ApiKey]:
    statement = select(ApiKey).where(ApiKey.application_id == application_id)
    if state is not None:
        statement = statement.where(_in_state(state, now))
    return statement
