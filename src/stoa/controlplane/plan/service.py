"""Rules for plans.

A plan holds the limits a subscription gets: a token-bucket rate (`rate_per_second` with
`burst`), quotas per minute, UTC day and UTC month, whether subscribing needs approval,
and which tools may be called. None means unlimited (or every tool). Quotas must be
consistent: a shorter period never allows more calls than a longer one.

Reading needs CATALOG_READ, creating and changing CATALOG_WRITE, deleting CATALOG_DELETE.
A plan that subscriptions hold, or ever held, cannot be deleted; its policies go with it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.authz import Action, authorize
from stoa.controlplane.models import Plan, Tenant
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.plan import repository
from stoa.controlplane.plan.schemas import PlanCreate, PlanUpdate
from stoa.controlplane.policy import service as policies
from stoa.controlplane.principal import Principal
from stoa.controlplane.subscription.transitions import LIVE
from stoa.kit.errors import Conflict, InvalidInput, NotFound
from stoa.kit.ids import new_id

LIMIT_FIELDS = ("rate_per_second", "burst", "per_minute", "per_day", "per_month")
QUOTAS_SHORTEST_FIRST = ("per_minute", "per_day", "per_month")


def settled_limits(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The limits after applying `changes` (fields sent; None = unlimited) to `current`.

    Sending a rate without a burst sets the burst to the rate's ceiling (None with no
    rate). Raises `InvalidInput` for a burst without a rate, or a quota above a quota of a
    longer period.
    """
    limits = {field: changes.get(field, current.get(field)) for field in LIMIT_FIELDS}
    if "rate_per_second" in changes and "burst" not in changes:
        rate = limits["rate_per_second"]
        limits["burst"] = None if rate is None else math.ceil(rate)
    if limits["burst"] is not None and limits["rate_per_second"] is None:
        raise InvalidInput(
            "burst needs rate_per_second: set a rate, or leave burst out",
            errors=[{"field": "burst", "message": "needs rate_per_second"}],
        )
    for shorter, longer in combinations(QUOTAS_SHORTEST_FIRST, 2):
        few, many = limits[shorter], limits[longer]
        if few is not None and many is not None and few > many:
            raise InvalidInput(
                f"{shorter} ({few}) must not exceed {longer} ({many}): "
                f"raise {longer} or lower {shorter}",
                errors=[{"field": shorter, "message": f"exceeds {longer}"}],
            )
    return limits


def _authorize(actor: Principal, action: Action, tenant: Tenant) -> None:
    authorize(actor, action, tenant.id, what=f"tenant {tenant.slug}")


async def _found(session: AsyncSession, tenant: Tenant, name: str) -> Plan:
    plan = await repository.by_name(session, tenant.id, name)
    if plan is None:
        raise NotFound(f"plan {name} does not exist in tenant {tenant.slug}")
    return plan


async def _check_name_free(session: AsyncSession, tenant: Tenant, name: str) -> None:
    if await repository.by_name(session, tenant.id, name) is not None:
        raise Conflict(f"tenant {tenant.slug} has a plan named {name}; choose another name")


async def list_plans(
    session: AsyncSession,
    actor: Principal,
    tenant: Tenant,
    page: PageRequest,
    *,
    requires_approval: bool | None,
    q: str | None,
) -> tuple[Sequence[Plan], str | None]:
    _authorize(actor, Action.CATALOG_READ, tenant)
    statement = repository.listing(tenant_id=tenant.id, requires_approval=requires_approval, q=q)
    return await fetch_page(session, statement, Plan.id, page)


async def get_plan(session: AsyncSession, actor: Principal, tenant: Tenant, name: str) -> Plan:
    _authorize(actor, Action.CATALOG_READ, tenant)
    return await _found(session, tenant, name)


async def create_plan(
    session: AsyncSession, actor: Principal, tenant: Tenant, data: PlanCreate
) -> Plan:
    _authorize(actor, Action.CATALOG_WRITE, tenant)
    limits = settled_limits({}, data.model_dump(include=set(LIMIT_FIELDS), exclude_unset=True))
    await _check_name_free(session, tenant, data.name)
    plan = Plan(
        id=new_id("pln"),
        tenant_id=tenant.id,
        name=data.name,
        description=data.description,
        requires_approval=data.requires_approval,
        tool_allowlist=data.tool_allowlist,
        **limits,
    )
    session.add(plan)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="plan.create",
        target_type="plan",
        target_id=plan.id,
        tenant_id=tenant.id,
        after=audit.snapshot_of(plan),
    )
    return plan


async def update_plan(
    session: AsyncSession, actor: Principal, tenant: Tenant, name: str, data: PlanUpdate
) -> Plan:
    """Change the fields sent. Limits apply to existing subscriptions at the next gateway
    sync; `requires_approval` only to new subscriptions."""
    _authorize(actor, Action.CATALOG_WRITE, tenant)
    plan = await _found(session, tenant, name)
    changes = data.model_dump(exclude_unset=True)
    current = {field: getattr(plan, field) for field in LIMIT_FIELDS}
    limits = settled_limits(current, {k: v for k, v in changes.items() if k in LIMIT_FIELDS})
    if "name" in changes and changes["name"] != plan.name:
        await _check_name_free(session, tenant, changes["name"])
    before = audit.snapshot_of(plan)
    for field, value in {**changes, **limits}.items():
        setattr(plan, field, value)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="plan.update",
        target_type="plan",
        target_id=plan.id,
        tenant_id=tenant.id,
        before=before,
        after=audit.snapshot_of(plan),
    )
    return plan


async def delete_plan(session: AsyncSession, actor: Principal, tenant: Tenant, name: str) -> None:
    """Delete a plan no subscription ever held, with the policies attached to it."""
    _authorize(actor, Action.CATALOG_DELETE, tenant)
    plan = await _found(session, tenant, name)
    counts = await repository.subscription_counts(session, plan.id)
    live = sum(count for status, count in counts.items() if status in LIVE)
    if live:
        raise Conflict(
            f"plan {plan.name} has {live} live subscription(s) (pending, active or "
            "suspended); move them to another plan or revoke them before deleting it"
        )
    if counts:
        raise Conflict(
            f"plan {plan.name} has subscription history ({sum(counts.values())} revoked or "
            "rejected subscription(s)) and cannot be deleted; rename it instead "
            f"(e.g. {plan.name}-retired)"
        )
    await policies.delete_attached(session, actor, tenant, "plan", plan.id)
    before = audit.snapshot_of(plan)
    await session.delete(plan)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="plan.delete",
        target_type="plan",
        target_id=before["id"],
        tenant_id=tenant.id,
        before=before,
    )
