"""HTTP routes for an application's API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from stoa.controlplane.api_key import service
from stoa.controlplane.api_key.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyOut,
    ApiKeyRotate,
    KeyState,
)
from stoa.controlplane.dependencies import CurrentPrincipal, Pagination, RuntimeDep, Session
from stoa.controlplane.pagination import Page

router = APIRouter(prefix="/v1/applications/{application_id}/keys", tags=["api keys"])


@router.get("", response_model=Page[ApiKeyOut])
async def list_keys(
    application_id: str,
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    status: Annotated[KeyState | None, Query()] = None,
) -> Page[ApiKeyOut]:
    """The application's keys, by prefix; secrets are never shown again."""
    items, cursor = await service.list_keys(session, principal, application_id, page, state=status)
    return Page(items=[ApiKeyOut.model_validate(k) for k in items], next_cursor=cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyIssued)
async def create_key(
    application_id: str,
    body: ApiKeyCreate,
    session: Session,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
) -> ApiKeyIssued:
    """Issue a key. The response carries the secret (`stoa_sk_…`) this once only."""
    issued = await service.create_key(
        session, principal, runtime.key_hash_secret, application_id, body
    )
    return ApiKeyIssued.model_validate(issued)


@router.get("/{key_id}", response_model=ApiKeyOut)
async def get_key(
    application_id: str, key_id: str, session: Session, principal: CurrentPrincipal
) -> ApiKeyOut:
    found = await service.get_key(session, principal, application_id, key_id)
    return ApiKeyOut.model_validate(found)


@router.post("/{key_id}/rotate", status_code=status.HTTP_201_CREATED, response_model=ApiKeyIssued)
async def rotate_key(
    application_id: str,
    key_id: str,
    session: Session,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    body: Annotated[ApiKeyRotate | None, Body()] = None,
) -> ApiKeyIssued:
    """Issue a successor (its secret shown this once); the old key stays valid for
    `grace_seconds` (default one day) and is listed as `rotating` until then."""
    issued = await service.rotate_key(
        session,
        principal,
        runtime.key_hash_secret,
        application_id,
        key_id,
        body if body is not None else ApiKeyRotate(),
    )
    return ApiKeyIssued.model_validate(issued)


@router.post("/{key_id}/revoke", response_model=ApiKeyOut)
async def revoke_key(
    application_id: str, key_id: str, session: Session, principal: CurrentPrincipal
) -> ApiKeyOut:
    """Revoke the key; gateways refuse it from their next sync. Revoking twice is 409."""
    revoked = await service.revoke_key(session, principal, application_id, key_id)
    return ApiKeyOut.model_validate(revoked)
