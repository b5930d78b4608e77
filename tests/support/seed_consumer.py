"""Seeders for the consumer side: published APIs and plans to subscribe to, and a way to
read rows back when a test must check what was (not) stored."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Select

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.models import Api, Plan, Tool
from stoa.controlplane.models.base import utcnow
from stoa.kit.ids import new_id
from support.world import World


def _tenant_id(world: World, slug: str) -> str:
    try:
        return world.tenant_id(slug)
    except KeyError:
        return world.tenant(slug)


def published_api(
    world: World,
    tenant_slug: str,
    name: str,
    *,
    visibility: str = "public",
    lifecycle: str = "published",
) -> str:
    """A REST API with one tool in `tenant_slug` (created if new); returns the API's id."""
    tenant_id = _tenant_id(world, tenant_slug)
    api_id = new_id("api")
    world._run(
        Api(
            id=api_id,
            tenant_id=tenant_id,
            name=name,
            title=name.title(),
            kind="rest",
            visibility=visibility,
            lifecycle=lifecycle,
            backend_url="http://127.0.0.1:9",
            published_at=None if lifecycle == "draft" else utcnow(),
        ),
        Tool(
            id=new_id("tool"),
            api_id=api_id,
            tenant_id=tenant_id,
            name="get",
            input_schema={"type": "object"},
        ),
    )
    return api_id


def plan(world: World, tenant_slug: str, name: str, *, requires_approval: bool = False) -> str:
    """A plan of `tenant_slug` (created if new); returns the plan's id."""
    plan_id = new_id("pln")
    world._run(
        Plan(
            id=plan_id,
            tenant_id=_tenant_id(world, tenant_slug),
            name=name,
            requires_approval=requires_approval,
        )
    )
    return plan_id


def rows(world: World, statement: Select[Any]) -> list[Any]:
    """The first column of every row `statement` selects, read straight from the database."""

    async def read() -> list[Any]:
        engine = create_engine(world.settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return list((await session.scalars(statement)).all())
        finally:
            await engine.dispose()

    return asyncio.run(read())
