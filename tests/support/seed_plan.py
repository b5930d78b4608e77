"""Seeders for plans and what refers to them: plans with limits, draft APIs to attach
policies to, subscriptions that hold a plan, and the audit trail of a row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stoa.controlplane.models import Api, Application, AuditEntry, Plan, Subscription, User
from stoa.kit.ids import new_id
from support.seed_consumer import rows
from support.world import World


def _tenant_id(world: World, slug: str) -> str:
    try:
        return world.tenant_id(slug)
    except KeyError:
        return world.tenant(slug)


def plan(
    world: World,
    tenant_slug: str,
    *,
    name: str = "basic",
    description: str = "",
    requires_approval: bool = False,
    tool_allowlist: list[str] | None = None,
    **limits: Any,
) -> str:
    """A plan of `tenant_slug` (created if new) with `limits` (`rate_per_second`, `burst`,
    `per_minute`, `per_day`, `per_month`; unlimited when left out); returns its id.
    Written as given: no defaults are derived and no consistency is checked."""
    plan_id = new_id("pln")
    world._run(
        Plan(
            id=plan_id,
            tenant_id=_tenant_id(world, tenant_slug),
            name=name,
            description=description,
            requires_approval=requires_approval,
            tool_allowlist=tool_allowlist,
            **limits,
        )
    )
    return plan_id


def api(world: World, tenant_slug: str, name: str) -> str:
    """A draft REST API of `tenant_slug` (created if new), e.g. as a policy target; returns
    its id."""
    api_id = new_id("api")
    world._run(
        Api(
            id=api_id,
            tenant_id=_tenant_id(world, tenant_slug),
            name=name,
            title=name.title(),
            kind="rest",
            lifecycle="draft",
            backend_url="http://127.0.0.1:9",
        )
    )
    return api_id


def subscription(world: World, tenant_slug: str, plan_id: str, *, status: str = "active") -> str:
    """A subscription with `status` holding `plan_id` (a plan of `tenant_slug`): a new
    developer's application subscribed to a new API of the tenant. Returns its id."""
    tenant_id = _tenant_id(world, tenant_slug)
    user_id, app_id, api_id, subscription_id = (
        new_id("usr"),
        new_id("app"),
        new_id("api"),
        new_id("sub"),
    )
    world._run(
        User(id=user_id, email=f"{user_id.lower()}@dev.test", name="dev", tenant_id=tenant_id),
        Application(id=app_id, owner_id=user_id, tenant_id=tenant_id, name="app"),
        Api(
            id=api_id,
            tenant_id=tenant_id,
            name=api_id.lower().replace("_", "-"),
            title="Subscribed",
            kind="rest",
            lifecycle="published",
            backend_url="http://127.0.0.1:9",
        ),
        Subscription(
            id=subscription_id,
            application_id=app_id,
            api_id=api_id,
            plan_id=plan_id,
            tenant_id=tenant_id,
            status=status,
        ),
    )
    return subscription_id


def audit_trail(world: World, target_id: str) -> list[AuditEntry]:
    """The audit entries about `target_id`, oldest first, read straight from the database."""
    statement = select(AuditEntry).where(AuditEntry.target_id == target_id).order_by(AuditEntry.seq)
    return rows(world, statement)
