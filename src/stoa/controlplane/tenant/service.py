"""Rules for tenants. Creating, suspending, archiving and deleting are platform-admin acts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.authz import Action, can, require_platform_admin
from stoa.controlplane.models import Tenant
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.principal import Principal
from stoa.controlplane.tenant import repository
from stoa.controlplane.tenant.schemas import TenantCreate, TenantUpdate
from stoa.kit.errors import Conflict
from stoa.kit.ids import new_id


async def list_tenants(
    session: AsyncSession, actor: Principal, page: PageRequest, *, status: str | None
) -> tuple[Sequence[Tenant], str | None]:
    """All tenants for platform admins; a member sees only their own."""
    if actor.is_platform_admin:
        only_id = None
    elif actor.tenant_id is not None and can(actor, Action.TENANT_READ, actor.tenant_id):
        only_id = actor.tenant_id
    else:
        return [], None
    return await fetch_page(
        session, repository.listing(only_id=only_id, status=status), Tenant.id, page
    )


async def create_tenant(session: AsyncSession, actor: Principal, data: TenantCreate) -> Tenant:
    require_platform_admin(actor, doing="creating a tenant")
    if await repository.by_slug(session, data.slug) is not None:
        raise Conflict(f"a tenant with slug {data.slug} exists; choose another slug")
    tenant = Tenant(id=new_id("ten"), slug=data.slug, name=data.name, status="active")
    session.add(tenant)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="tenant.create",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        after=audit.snapshot_of(tenant),
    )
    return tenant


async def update_tenant(
    session: AsyncSession, actor: Principal, tenant: Tenant, data: TenantUpdate
) -> Tenant:
    """Renaming needs tenant-admin in the tenant; changing status needs cpi-admin."""
    if data.status is not None and data.status != tenant.status:
        require_platform_admin(actor, doing="changing a tenant's status")
    elif not can(actor, Action.MEMBER_MANAGE, tenant.id):
        require_platform_admin(actor, doing="renaming a tenant")
    before = audit.snapshot_of(tenant)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(tenant, field, value)
    await session.flush()
    action = (
        f"tenant.{data.status}"
        if "status" in changes and before["status"] != tenant.status
        else "tenant.update"
    )
    await audit.record(
        session,
        actor,
        action=action,
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        before=before,
        after=audit.snapshot_of(tenant),
    )
    return tenant


async def delete_tenant(session: AsyncSession, actor: Principal, tenant: Tenant) -> None:
    """Deletes the tenant and everything in it; it must be archived first, so that deletion
    is always a second, deliberate step."""
    require_platform_admin(actor, doing="deleting a tenant")
    if tenant.status != "archived":
        raise Conflict(f"tenant {tenant.slug} is {tenant.status}; archive it before deleting it")
    before = audit.snapshot_of(tenant)
    await session.delete(tenant)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="tenant.delete",
        target_type="tenant",
        target_id=tenant.id,
        tenant_id=tenant.id,
        before=before,
    )
