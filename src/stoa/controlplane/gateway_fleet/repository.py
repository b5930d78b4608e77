"""Queries on gateway tokens and gateways."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import Gateway, GatewayToken


async def token_by_id(session: AsyncSession, token_id: str) -> GatewayToken | None:
    return await session.get(GatewayToken, token_id)


async def token_by_digest(session: AsyncSession, digest: str) -> GatewayToken | None:
    return await session.scalar(select(GatewayToken).where(GatewayToken.digest == digest))


def token_listing(*, state: str | None) -> Select[GatewayToken]:
    statement = select(GatewayToken)
    if state is not None:
        statement = statement.where(GatewayToken.status == state)
    return statement


async def gateway_instance(
    session: AsyncSession, token_id: str, instance_id: str
) -> Gateway | None:
    return await session.scalar(
        select(Gateway).where(Gateway.token_id == token_id, Gateway.instance_id == instance_id)
    )


def gateway_listing() -> Select[Gateway]:
    return select(Gateway)
