"""HTTP routes for subscriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from stoa.controlplane.dependencies import CurrentPrincipal, Pagination, Session
from stoa.controlplane.pagination import Page
from stoa.controlplane.subscription import service
from stoa.controlplane.subscription.schemas import (
    SubscriptionCreate,
    SubscriptionDecision,
    SubscriptionOut,
    SubscriptionUpdate,
)
from stoa.controlplane.subscription.transitions import Status

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])

Decision = Annotated[SubscriptionDecision | None, Body()]


def _decision(body: SubscriptionDecision | None) -> SubscriptionDecision:
    return body if body is not None else SubscriptionDecision()


@router.get("", response_model=Page[SubscriptionOut])
async def list_subscriptions(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    application_id: Annotated[str | None, Query(max_length=40)] = None,
    api: Annotated[str | None, Query(max_length=63, description="API name")] = None,
    tenant: Annotated[str | None, Query(max_length=63, description="API tenant slug")] = None,
    status: Annotated[Status | None, Query()] = None,
) -> Page[SubscriptionOut]:
    """Subscriptions of applications you can see, and to your tenant's APIs if your roles
    allow reading them."""
    items, cursor = await service.list_subscriptions(
        session,
        principal,
        page,
        application_id=application_id,
        api=api,
        tenant=tenant,
        status=status,
    )
    return Page(items=[SubscriptionOut.model_validate(s) for s in items], next_cursor=cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubscriptionOut)
async def create_subscription(
    body: SubscriptionCreate, session: Session, principal: CurrentPrincipal
) -> SubscriptionOut:
    """Subscribe an application you manage to a published API, e.g.
    `{"application_id": "app_…", "api": {"tenant": "acme", "name": "weather"}, "plan": "gold"}`.
    The subscription is `active` at once if the plan needs no approval, else `pending` until
    the API's tenant approves it."""
    created = await service.create_subscription(session, principal, body)
    return SubscriptionOut.model_validate(created)


@router.get("/{subscription_id}", response_model=SubscriptionOut)
async def get_subscription(
    subscription_id: str, session: Session, principal: CurrentPrincipal
) -> SubscriptionOut:
    found = await service.get_subscription(session, principal, subscription_id)
    return SubscriptionOut.model_validate(found)


@router.patch("/{subscription_id}", response_model=SubscriptionOut)
async def change_plan(
    subscription_id: str, body: SubscriptionUpdate, session: Session, principal: CurrentPrincipal
) -> SubscriptionOut:
    """Move the subscription to another plan of the API's tenant (its tenant-admins)."""
    changed = await service.change_plan(session, principal, subscription_id, body)
    return SubscriptionOut.model_validate(changed)


@router.post("/{subscription_id}/approve", response_model=SubscriptionOut)
async def approve(
    subscription_id: str, session: Session, principal: CurrentPrincipal, body: Decision = None
) -> SubscriptionOut:
    """pending → active; the API tenant's tenant-admins."""
    changed = await service.change_status(
        session, principal, subscription_id, "approve", _decision(body)
    )
    return SubscriptionOut.model_validate(changed)


@router.post("/{subscription_id}/reject", response_model=SubscriptionOut)
async def reject(
    subscription_id: str, session: Session, principal: CurrentPrincipal, body: Decision = None
) -> SubscriptionOut:
    """pending → rejected (final); the API tenant's tenant-admins."""
    changed = await service.change_status(
        session, principal, subscription_id, "reject", _decision(body)
    )
    return SubscriptionOut.model_validate(changed)


@router.post("/{subscription_id}/suspend", response_model=SubscriptionOut)
async def suspend(
    subscription_id: str, session: Session, principal: CurrentPrincipal, body: Decision = None
) -> SubscriptionOut:
    """active → suspended; the API tenant's tenant-admins."""
    changed = await service.change_status(
        session, principal, subscription_id, "suspend", _decision(body)
    )
    return SubscriptionOut.model_validate(changed)


@router.post("/{subscription_id}/resume", response_model=SubscriptionOut)
async def resume(
    subscription_id: str, session: Session, principal: CurrentPrincipal, body: Decision = None
) -> SubscriptionOut:
    """suspended → active; the API tenant's tenant-admins."""
    changed = await service.change_status(
        session, principal, subscription_id, "resume", _decision(body)
    )
    return SubscriptionOut.model_validate(changed)


@router.post("/{subscription_id}/revoke", response_model=SubscriptionOut)
async def revoke(
    subscription_id: str, session: Session, principal: CurrentPrincipal, body: Decision = None
) -> SubscriptionOut:
    """pending, active or suspended → revoked (final); the API tenant's tenant-admins, or
    whoever manages the application (cancelling)."""
    changed = await service.change_status(
        session, principal, subscription_id, "revoke", _decision(body)
    )
    return SubscriptionOut.model_validate(changed)
