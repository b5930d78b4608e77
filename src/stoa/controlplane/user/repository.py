"""Queries on users and role bindings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import RoleBinding, Tenant, User


async def by_id(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def by_client_id(session: AsyncSession, client_id: str) -> User | None:
    return await session.scalar(select(User).where(User.client_id == client_id))


def listing(
    *, tenant_id: str | None, everywhere: bool, email: str | None, kind: str | None
) -> Select[User]:
    """Users of `tenant_id`, or of every tenant and the platform when `everywhere`."""
    statement = select(User)
    if not everywhere:
        statement = statement.where(User.tenant_id == tenant_id)
    if email is not None:
        statement = statement.where(User.email == email)
    if kind is not None:
        statement = statement.where(User.kind == kind)
    return statement


async def bindings_of(session: AsyncSession, user_id: str) -> list[RoleBinding]:
    statement = select(RoleBinding).where(RoleBinding.user_id == user_id).order_by(RoleBinding.role)
    return list((await session.scalars(statement)).all())


async def binding(session: AsyncSession, user_id: str, role: str) -> RoleBinding | None:
    return await session.scalar(
        select(RoleBinding).where(RoleBinding.user_id == user_id, RoleBinding.role == role)
    )


async def roles_by_user(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, list[str]]:
    """Sorted role names per user id (users without roles are absent)."""
    ids = list(user_ids)
    found: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.execute(
        select(RoleBinding.user_id, RoleBinding.role)
        .where(RoleBinding.user_id.in_(ids))
        .order_by(RoleBinding.role)
    )
    for user_id, role in rows:
        found[user_id].append(role)
    return found


async def tenant_slugs(session: AsyncSession, tenant_ids: Iterable[str | None]) -> dict[str, str]:
    ids = {t for t in tenant_ids if t is not None}
    if not ids:
        return {}
    rows = await session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


async def count_holders(session: AsyncSession, role: str, tenant_id: str | None) -> int:
    """How many users hold `role` in `tenant_id` (None: the platform role)."""
    condition = (
        RoleBinding.tenant_id.is_(None) if tenant_id is None else RoleBinding.tenant_id == tenant_id
    )
    count = await session.scalar(
        select(func.count()).select_from(RoleBinding).where(RoleBinding.role == role, condition)
    )
    return int(count or 0)
