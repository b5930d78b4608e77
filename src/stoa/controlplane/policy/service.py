"""Rules for policies.

A policy belongs to a tenant and targets the tenant itself, one of its APIs or one of its
plans; the target is named in requests and can never be another tenant's. Its `config`
is validated and normalized for its kind (`policy.config`) on every write, so what is
stored is exactly what gateways receive. `kind` and target never change.

Reading needs CATALOG_READ, creating and changing CATALOG_WRITE, deleting CATALOG_DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.authz import Action, authorize
from stoa.controlplane.models import Policy, Tenant
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.policy import repository
from stoa.controlplane.policy.config import normalized_config
from stoa.controlplane.policy.schemas import PolicyCreateBody, PolicyUpdate, TargetRef
from stoa.controlplane.principal import Principal
from stoa.kit.errors import Conflict, InvalidInput, NotFound
from stoa.kit.ids import new_id


@dataclass(frozen=True, slots=True)
class TargetView:
    type: str
    id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class PolicyView:
    """A policy with its target's name, for `PolicyOut`."""

    id: str
    tenant_id: str
    name: str
    kind: str
    target: TargetView
    config: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


async def _views(
    session: AsyncSession, tenant: Tenant, policies: Sequence[Policy]
) -> list[PolicyView]:
    api_names = await repository.api_names(
        session, {p.target_id for p in policies if p.target_type == "api"}
    )
    plan_names = await repository.plan_names(
        session, {p.target_id for p in policies if p.target_type == "plan"}
    )
    names = {"tenant": {tenant.id: tenant.slug}, "api": api_names, "plan": plan_names}
    return [
        PolicyView(
            id=p.id,
            tenant_id=p.tenant_id,
            name=p.name,
            kind=p.kind,
            target=TargetView(p.target_type, p.target_id, names[p.target_type].get(p.target_id)),
            config=p.config,
            enabled=p.enabled,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in policies
    ]


def _authorize(actor: Principal, action: Action, tenant: Tenant) -> None:
    authorize(actor, action, tenant.id, what=f"tenant {tenant.slug}")


async def _found(session: AsyncSession, tenant: Tenant, name: str) -> Policy:
    policy = await repository.by_name(session, tenant.id, name)
    if policy is None:
        raise NotFound(f"policy {name} does not exist in tenant {tenant.slug}")
    return policy


async def _target_id(session: AsyncSession, tenant: Tenant, target: TargetRef) -> str:
    """The id of the tenant, API or plan `target` names, which must be `tenant`'s own."""
    if target.type == "tenant":
        if target.name is not None and target.name != tenant.slug:
            raise InvalidInput(
                f"target tenant {target.name}: a policy of tenant {tenant.slug} can only "
                f"target tenant {tenant.slug} itself; leave the name out",
                errors=[{"field": "target.name", "message": "not this tenant"}],
            )
        return tenant.id
    assert target.name is not None  # TargetRef requires it for APIs and plans
    found = (
        await repository.api_named(session, tenant.id, target.name)
        if target.type == "api"
        else await repository.plan_named(session, tenant.id, target.name)
    )
    if found is None:
        raise InvalidInput(
            f"target {target.type} {target.name} does not exist in tenant {tenant.slug}; "
            f"name one of its {target.type}s",
            errors=[{"field": "target.name", "message": f"unknown {target.type}"}],
        )
    return found.id


async def _check_name_free(session: AsyncSession, tenant: Tenant, name: str) -> None:
    if await repository.by_name(session, tenant.id, name) is not None:
        raise Conflict(f"tenant {tenant.slug} has a policy named {name}; choose another name")


async def list_policies(
    session: AsyncSession,
    actor: Principal,
    tenant: Tenant,
    page: PageRequest,
    *,
    kind: str | None,
    target_type: str | None,
    target_id: str | None,
    enabled: bool | None,
) -> tuple[list[PolicyView], str | None]:
    _authorize(actor, Action.CATALOG_READ, tenant)
    statement = repository.listing(
        tenant_id=tenant.id,
        kind=kind,
        target_type=target_type,
        target_id=target_id,
        enabled=enabled,
    )
    rows, cursor = await fetch_page(session, statement, Policy.id, page)
    return await _views(session, tenant, rows), cursor


async def get_policy(
    session: AsyncSession, actor: Principal, tenant: Tenant, name: str
) -> PolicyView:
    _authorize(actor, Action.CATALOG_READ, tenant)
    return (await _views(session, tenant, [await _found(session, tenant, name)]))[0]


async def create_policy(
    session: AsyncSession, actor: Principal, tenant: Tenant, data: PolicyCreateBody
) -> PolicyView:
    _authorize(actor, Action.CATALOG_WRITE, tenant)
    if data.kind == "cors" and data.target.type == "plan":
        raise InvalidInput(
            "a cors policy cannot target a plan: browsers send preflight requests without "
            "credentials, so the gateway cannot know the plan; target the API or the tenant",
            errors=[{"field": "target.type", "message": "cors applies to a tenant or an API"}],
        )
    await _check_name_free(session, tenant, data.name)
    policy = Policy(
        id=new_id("pol"),
        tenant_id=tenant.id,
        name=data.name,
        kind=data.kind,
        target_type=data.target.type,
        target_id=await _target_id(session, tenant, data.target),
        config=data.config.model_dump(mode="json"),
        enabled=data.enabled,
    )
    session.add(policy)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="policy.create",
        target_type="policy",
        target_id=policy.id,
        tenant_id=tenant.id,
        after=audit.snapshot_of(policy),
    )
    return (await _views(session, tenant, [policy]))[0]


async def update_policy(
    session: AsyncSession, actor: Principal, tenant: Tenant, name: str, data: PolicyUpdate
) -> PolicyView:
    """Rename, replace the config (validated against the policy's kind), enable or
    disable."""
    _authorize(actor, Action.CATALOG_WRITE, tenant)
    policy = await _found(session, tenant, name)
    config = None if data.config is None else normalized_config(policy.kind, data.config)
    if data.name is not None and data.name != policy.name:
        await _check_name_free(session, tenant, data.name)
    before = audit.snapshot_of(policy)
    if data.name is not None:
        policy.name = data.name
    if config is not None:
        policy.config = config
    if data.enabled is not None:
        policy.enabled = data.enabled
    await session.flush()
    await audit.record(
        session,
        actor,
        action="policy.update",
        target_type="policy",
        target_id=policy.id,
        tenant_id=tenant.id,
        before=before,
        after=audit.snapshot_of(policy),
    )
    return (await _views(session, tenant, [policy]))[0]


async def _delete(session: AsyncSession, actor: Principal, policy: Policy) -> None:
    before = audit.snapshot_of(policy)
    await session.delete(policy)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="policy.delete",
        target_type="policy",
        target_id=before["id"],
        tenant_id=before["tenant_id"],
        before=before,
    )


async def delete_policy(session: AsyncSession, actor: Principal, tenant: Tenant, name: str) -> None:
    _authorize(actor, Action.CATALOG_DELETE, tenant)
    await _delete(session, actor, await _found(session, tenant, name))


async def delete_attached(
    session: AsyncSession, actor: Principal, tenant: Tenant, target_type: str, target_id: str
) -> int:
    """Delete (and audit) every policy of `tenant` attached to the API or plan
    `target_id`, for callers deleting that target in the same transaction, who have
    authorized the deletion. Returns how many there were."""
    policies = await repository.attached_to(session, tenant.id, target_type, target_id)
    for policy in policies:
        await _delete(session, actor, policy)
    return len(policies)
