"""Rules for applications.

An application belongs to the user who created it and to that user's tenant. Its owner
manages it; in its tenant, tenant-admins manage it too and viewers and devops read it;
cpi-admin does both everywhere. Anyone else is told it does not exist. The subscription
and API-key domains use `readable_application` and `managed_application` so that these
rules exist once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.application import repository
from stoa.controlplane.application.schemas import ApplicationCreate, ApplicationUpdate
from stoa.controlplane.audit import service as audit
from stoa.controlplane.authz import Action, can, roles_allowing
from stoa.controlplane.models import Application
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.principal import Principal
from stoa.kit.errors import Conflict, Forbidden, NotFound
from stoa.kit.ids import new_id


def may_read(actor: Principal, application: Application) -> bool:
    return application.owner_id == actor.user_id or can(
        actor, Action.APPLICATION_READ, application.tenant_id
    )


def may_manage(actor: Principal, application: Application) -> bool:
    return application.owner_id == actor.user_id or can(
        actor, Action.APPLICATION_MANAGE, application.tenant_id
    )


async def readable_application(
    session: AsyncSession, actor: Principal, application_id: str
) -> Application:
    """The application, if `actor` may read it; `NotFound` otherwise."""
    application = await repository.by_id(session, application_id)
    if application is None or not may_read(actor, application):
        raise NotFound(f"application {application_id} does not exist")
    return application


async def managed_application(
    session: AsyncSession, actor: Principal, application_id: str
) -> Application:
    """The application, if `actor` may change it (and its subscriptions and keys).

    `NotFound` when they may not even read it, `Forbidden` when they read but not manage.
    """
    application = await readable_application(session, actor, application_id)
    if not may_manage(actor, application):
        needed = " or ".join([*roles_allowing(Action.APPLICATION_MANAGE), "cpi-admin"])
        raise Forbidden(
            f"managing application {application.name} needs being its owner or the role {needed}"
        )
    return application


async def list_applications(
    session: AsyncSession,
    actor: Principal,
    page: PageRequest,
    *,
    owner_id: str | None,
    q: str | None,
) -> tuple[Sequence[Application], str | None]:
    """Everything for cpi-admin; otherwise the caller's own applications, plus their
    tenant's when their roles allow reading applications."""
    if actor.is_platform_admin:
        owned_by, of_tenant = None, None
    else:
        owned_by = actor.user_id
        of_tenant = (
            actor.tenant_id if can(actor, Action.APPLICATION_READ, actor.tenant_id) else None
        )
    statement = repository.listing(owned_by=owned_by, of_tenant=of_tenant, owner_id=owner_id, q=q)
    return await fetch_page(session, statement, Application.id, page)


async def create_application(
    session: AsyncSession, actor: Principal, data: ApplicationCreate
) -> Application:
    """Any authenticated user may create applications; they own them."""
    await _require_free_name(session, actor.user_id, data.name)
    application = Application(
        id=new_id("app"),
        owner_id=actor.user_id,
        tenant_id=actor.tenant_id,
        name=data.name,
        description=data.description,
    )
    session.add(application)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="application.create",
        target_type="application",
        target_id=application.id,
        tenant_id=application.tenant_id,
        after=audit.snapshot_of(application),
    )
    return application


async def update_application(
    session: AsyncSession, actor: Principal, application_id: str, data: ApplicationUpdate
) -> Application:
    application = await managed_application(session, actor, application_id)
    if data.name is not None and data.name != application.name:
        await _require_free_name(session, application.owner_id, data.name)
    before = audit.snapshot_of(application)
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(application, field, value)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="application.update",
        target_type="application",
        target_id=application.id,
        tenant_id=application.tenant_id,
        before=before,
        after=audit.snapshot_of(application),
    )
    return application


async def delete_application(session: AsyncSession, actor: Principal, application_id: str) -> None:
    """Revokes the application's live subscriptions and its keys, each with its own audit
    entry (a subscription's goes to the API tenant's log, where its provider looks), then
    deletes the application, which removes them with it."""
    application = await managed_application(session, actor, application_id)
    now = utcnow()
    for subscription in await repository.live_subscriptions(session, application.id):
        before = audit.snapshot_of(subscription)
        subscription.status = "revoked"
        subscription.reason = f"application {application.name} was deleted"
        await session.flush()
        await audit.record(
            session,
            actor,
            action="subscription.revoke",
            target_type="subscription",
            target_id=subscription.id,
            tenant_id=subscription.tenant_id,
            before=before,
            after=audit.snapshot_of(subscription),
        )
    for key in await repository.unrevoked_keys(session, application.id):
        before = audit.snapshot_of(key)
        key.status, key.revoked_at = "revoked", now
        await session.flush()
        await audit.record(
            session,
            actor,
            action="api_key.revoke",
            target_type="api_key",
            target_id=key.id,
            tenant_id=application.tenant_id,
            before=before,
            after=audit.snapshot_of(key),
        )
    before = audit.snapshot_of(application)
    await session.delete(application)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="application.delete",
        target_type="application",
        target_id=application.id,
        tenant_id=application.tenant_id,
        before=before,
    )


async def _require_free_name(session: AsyncSession, owner_id: str, name: str) -> None:
    if await repository.by_owner_and_name(session, owner_id, name) is not None:
        raise Conflict(f"the owner already has an application named {name}; choose another name")
