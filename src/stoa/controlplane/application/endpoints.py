"""HTTP routes for applications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from stoa.controlplane.application import service
from stoa.controlplane.application.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationUpdate,
)
from stoa.controlplane.dependencies import CurrentPrincipal, Pagination, Session
from stoa.controlplane.pagination import Page

router = APIRouter(prefix="/v1/applications", tags=["applications"])


@router.get("", response_model=Page[ApplicationOut])
async def list_applications(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    owner: Annotated[str | None, Query(max_length=40, description="Owner's user id")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Text in the name or description")
    ] = None,
) -> Page[ApplicationOut]:
    """Your applications, and your tenant's if your roles allow reading them."""
    items, cursor = await service.list_applications(session, principal, page, owner_id=owner, q=q)
    return Page(items=[ApplicationOut.model_validate(a) for a in items], next_cursor=cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApplicationOut)
async def create_application(
    body: ApplicationCreate, session: Session, principal: CurrentPrincipal
) -> ApplicationOut:
    """Create an application owned by you, in your tenant."""
    created = await service.create_application(session, principal, body)
    return ApplicationOut.model_validate(created)


@router.get("/{application_id}", response_model=ApplicationOut)
async def get_application(
    application_id: str, session: Session, principal: CurrentPrincipal
) -> ApplicationOut:
    found = await service.readable_application(session, principal, application_id)
    return ApplicationOut.model_validate(found)


@router.patch("/{application_id}", response_model=ApplicationOut)
async def update_application(
    application_id: str, body: ApplicationUpdate, session: Session, principal: CurrentPrincipal
) -> ApplicationOut:
    updated = await service.update_application(session, principal, application_id, body)
    return ApplicationOut.model_validate(updated)


@router.delete("/{application_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_application(
    application_id: str, session: Session, principal: CurrentPrincipal
) -> None:
    """Delete the application; its subscriptions and keys are revoked and removed with it."""
    await service.delete_application(session, principal, application_id)
