"""Rules for subscriptions.

A subscription joins a consumer's application to a provider's API under one of the
provider's plans, and lives in the provider's tenant (`tenant_id`): the provider's
tenant-admins review it (approve, reject, suspend, resume, revoke, change plan) and its
viewers and devops read it. On the consumer side, whoever may read the application sees
its subscriptions, and whoever manages it may subscribe and revoke.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.application import service as applications
from stoa.controlplane.audit import service as audit
from stoa.controlplane.authz import Action, can, roles_allowing
from stoa.controlplane.models import Api, Application, Plan, Subscription, Tenant
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.principal import Principal
from stoa.controlplane.subscription import repository
from stoa.controlplane.subscription.schemas import (
    SubscriptionCreate,
    SubscriptionDecision,
    SubscriptionUpdate,
)
from stoa.controlplane.subscription.transitions import LIVE, Verb, next_status
from stoa.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from stoa.kit.ids import new_id


@dataclass(frozen=True, slots=True)
class NamedRef:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ApiSummary:
    id: str
    tenant: str
    name: str


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with the names a reader needs, for `SubscriptionOut`."""

    id: str
    status: str
    reason: str
    application: NamedRef
    api: ApiSummary
    plan: NamedRef
    created_at: datetime
    updated_at: datetime


def _view(
    subscription: Subscription, application: Application, api: Api, api_tenant: str, plan: Plan
) -> SubscriptionView:
    return SubscriptionView(
        id=subscription.id,
        status=subscription.status,
        reason=subscription.reason,
        application=NamedRef(application.id, application.name),
        api=ApiSummary(api.id, api_tenant, api.name),
        plan=NamedRef(plan.id, plan.name),
        created_at=subscription.created_at,
        updated_at=subscription.updated_at,
    )


async def _views(
    session: AsyncSession, subscriptions: Sequence[Subscription]
) -> list[SubscriptionView]:
    details = await repository.with_details(session, [s.id for s in subscriptions])
    return [_view(*details[s.id]) for s in subscriptions]


async def list_subscriptions(
    session: AsyncSession,
    actor: Principal,
    page: PageRequest,
    *,
    application_id: str | None,
    api: str | None,
    tenant: str | None,
    status: str | None,
) -> tuple[list[SubscriptionView], str | None]:
    """Subscriptions of the applications the caller may read, and, with SUBSCRIPTION_READ,
    every subscription to their tenant's APIs; everything for cpi-admin."""
    if actor.is_platform_admin:
        owned_by = consumer_tenant = api_tenant = None
    else:
        owned_by = actor.user_id
        consumer_tenant = (
            actor.tenant_id if can(actor, Action.APPLICATION_READ, actor.tenant_id) else None
        )
        api_tenant = (
            actor.tenant_id if can(actor, Action.SUBSCRIPTION_READ, actor.tenant_id) else None
        )
    statement = repository.listing(
        owned_by=owned_by,
        of_consumer_tenant=consumer_tenant,
        of_api_tenant=api_tenant,
        application_id=application_id,
        api_name=api,
        api_tenant_slug=tenant,
        status=status,
    )
    rows, cursor = await fetch_page(session, statement, Subscription.id, page)
    return await _views(session, rows), cursor


async def get_subscription(
    session: AsyncSession, actor: Principal, subscription_id: str
) -> SubscriptionView:
    subscription, _ = await _visible(session, actor, subscription_id)
    [view] = await _views(session, [subscription])
    return view


async def create_subscription(
    session: AsyncSession, actor: Principal, data: SubscriptionCreate
) -> SubscriptionView:
    """Subscribe an application the caller manages to a published API offered to the
    application's tenant: active at once if the plan needs no approval, else pending."""
    application = await applications.managed_application(session, actor, data.application_id)
    api, api_tenant = await _subscribable_api(session, actor, application, data)
    plan = await _plan_of(session, api_tenant, data.plan)
    existing = await repository.live_for(session, application.id, api.id)
    if existing is not None:
        raise Conflict(
            f"application {application.name} already has a {existing.status} subscription "
            f"({existing.id}) to api {api_tenant.slug}/{api.name}; change or revoke that one",
            subscription_id=existing.id,
        )
    subscription = Subscription(
        id=new_id("sub"),
        application_id=application.id,
        api_id=api.id,
        plan_id=plan.id,
        tenant_id=api.tenant_id,
        status="pending" if plan.requires_approval else "active",
        reason="",
    )
    session.add(subscription)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="subscription.create",
        target_type="subscription",
        target_id=subscription.id,
        tenant_id=subscription.tenant_id,
        after=audit.snapshot_of(subscription),
    )
    return _view(subscription, application, api, api_tenant.slug, plan)


async def change_status(
    session: AsyncSession,
    actor: Principal,
    subscription_id: str,
    verb: Verb,
    decision: SubscriptionDecision,
) -> SubscriptionView:
    """Apply `verb` (see `transitions`). Reviewing is for the API tenant's tenant-admins and
    cpi-admin; revoking is also open to whoever manages the application."""
    subscription, application = await _visible(session, actor, subscription_id)
    reviewer = can(actor, Action.SUBSCRIPTION_REVIEW, subscription.tenant_id)
    if not reviewer and not (verb == "revoke" and applications.may_manage(actor, application)):
        reviewers = " or ".join([*roles_allowing(Action.SUBSCRIPTION_REVIEW), "cpi-admin"])
        also = f", or managing application {application.name}" if verb == "revoke" else ""
        raise Forbidden(
            f"{verb} on a subscription needs the role {reviewers} in the API's tenant{also}"
        )
    target = next_status(subscription.status, verb)
    before = audit.snapshot_of(subscription)
    subscription.status = target
    subscription.reason = decision.reason
    await session.flush()
    await audit.record(
        session,
        actor,
        action=f"subscription.{verb}",
        target_type="subscription",
        target_id=subscription.id,
        tenant_id=subscription.tenant_id,
        before=before,
        after=audit.snapshot_of(subscription),
    )
    [view] = await _views(session, [subscription])
    return view


async def change_plan(
    session: AsyncSession, actor: Principal, subscription_id: str, data: SubscriptionUpdate
) -> SubscriptionView:
    """Move a live subscription to another plan of the API's tenant; reviewers only."""
    subscription, _ = await _visible(session, actor, subscription_id)
    if not can(actor, Action.SUBSCRIPTION_REVIEW, subscription.tenant_id):
        reviewers = " or ".join([*roles_allowing(Action.SUBSCRIPTION_REVIEW), "cpi-admin"])
        raise Forbidden(f"changing a subscription's plan needs the role {reviewers}")
    if subscription.status not in LIVE:
        raise Conflict(
            f"the subscription is {subscription.status}; only pending, active or suspended "
            "subscriptions change plan"
        )
    api_tenant = await session.get(Tenant, subscription.tenant_id)
    assert api_tenant is not None  # the foreign key guarantees it
    plan = await _plan_of(session, api_tenant, data.plan)
    before = audit.snapshot_of(subscription)
    subscription.plan_id = plan.id
    await session.flush()
    await audit.record(
        session,
        actor,
        action="subscription.update",
        target_type="subscription",
        target_id=subscription.id,
        tenant_id=subscription.tenant_id,
        before=before,
        after=audit.snapshot_of(subscription),
    )
    [view] = await _views(session, [subscription])
    return view


async def _visible(
    session: AsyncSession, actor: Principal, subscription_id: str
) -> tuple[Subscription, Application]:
    """The subscription and its application, if the caller may read it; else `NotFound`."""
    subscription = await repository.by_id(session, subscription_id)
    if subscription is not None:
        application = await repository.application(session, subscription.application_id)
        if application is not None and (
            applications.may_read(actor, application)
            or can(actor, Action.SUBSCRIPTION_READ, subscription.tenant_id)
        ):
            return subscription, application
    raise NotFound(f"subscription {subscription_id} does not exist")


async def _subscribable_api(
    session: AsyncSession, actor: Principal, application: Application, data: SubscriptionCreate
) -> tuple[Api, Tenant]:
    """The API named in `data`, if it is offered to the application's tenant and published.

    An API the application's tenant may not see answers 404 whatever the reason (absent,
    another tenant's private API, a draft), so its existence does not leak; a caller who
    can read the API's catalog is told why a draft or retired API is refused.
    """
    what = f"api {data.api.tenant}/{data.api.name}"
    missing = NotFound(
        f"{what} does not exist or is not offered to the tenant of application {application.name}"
    )
    found = await repository.api_named(session, data.api.tenant, data.api.name)
    if found is None:
        raise missing
    api, api_tenant = found
    offered = api.tenant_id == application.tenant_id or (
        api.visibility == "public" and api_tenant.status == "active"
    )
    if not offered:
        raise missing
    if api.lifecycle == "deprecated":
        raise Conflict(f"{what} is deprecated; deprecated APIs accept no new subscriptions")
    if api.lifecycle != "published":
        if not can(actor, Action.CATALOG_READ, api.tenant_id):
            raise missing
        raise Conflict(f"{what} is {api.lifecycle}; only published APIs accept subscriptions")
    return api, api_tenant


async def _plan_of(session: AsyncSession, api_tenant: Tenant, name: str) -> Plan:
    plan = await repository.plan_named(session, api_tenant.id, name)
    if plan is not None:
        return plan
    offered = await repository.plan_names(session, api_tenant.id)
    choices = (
        f"choose one of: {', '.join(offered)}"
        if offered
        else f"tenant {api_tenant.slug} offers no plans yet"
    )
    message = f"plan {name} is not a plan of tenant {api_tenant.slug}; {choices}"
    raise InvalidInput(message, errors=[{"field": "plan", "message": message}])
