"""HTTP routes for tenants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from stoa.controlplane.dependencies import CurrentPrincipal, Pagination, Session, TenantReader
from stoa.controlplane.pagination import Page
from stoa.controlplane.tenant import service
from stoa.controlplane.tenant.schemas import TenantCreate, TenantOut, TenantStatus, TenantUpdate

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


@router.get("", response_model=Page[TenantOut])
async def list_tenants(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    status: Annotated[TenantStatus | None, Query()] = None,
) -> Page[TenantOut]:
    items, cursor = await service.list_tenants(session, principal, page, status=status)
    return Page(items=[TenantOut.model_validate(t) for t in items], next_cursor=cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantOut)
async def create_tenant(
    body: TenantCreate, session: Session, principal: CurrentPrincipal
) -> TenantOut:
    return TenantOut.model_validate(await service.create_tenant(session, principal, body))


@router.get("/{tenant}", response_model=TenantOut)
async def get_tenant(scope: TenantReader) -> TenantOut:
    return TenantOut.model_validate(scope.tenant)


@router.patch("/{tenant}", response_model=TenantOut)
async def update_tenant(body: TenantUpdate, scope: TenantReader, session: Session) -> TenantOut:
    updated = await service.update_tenant(session, scope.principal, scope.tenant, body)
    return TenantOut.model_validate(updated)


@router.delete("/{tenant}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_tenant(scope: TenantReader, session: Session) -> None:
    await service.delete_tenant(session, scope.principal, scope.tenant)
