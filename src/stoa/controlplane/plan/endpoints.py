"""HTTP routes for plans: `/v1/tenants/{tenant}/plans/{plan}`, `{plan}` being its name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from stoa.controlplane.dependencies import (
    CatalogDeleter,
    CatalogReader,
    CatalogWriter,
    Pagination,
    Session,
)
from stoa.controlplane.pagination import Page
from stoa.controlplane.plan import service
from stoa.controlplane.plan.schemas import PlanCreate, PlanOut, PlanUpdate

router = APIRouter(prefix="/v1/tenants/{tenant}/plans", tags=["plans"])

PlanPath = Annotated[str, Path(max_length=63, description="The plan's name")]


@router.get("", response_model=Page[PlanOut])
async def list_plans(
    scope: CatalogReader,
    session: Session,
    page: Pagination,
    requires_approval: Annotated[bool | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Case-insensitive text in the name or description"),
    ] = None,
) -> Page[PlanOut]:
    """The tenant's plans (viewer, devops, tenant-admin)."""
    items, cursor = await service.list_plans(
        session, scope.principal, scope.tenant, page, requires_approval=requires_approval, q=q
    )
    return Page(items=[PlanOut.model_validate(p) for p in items], next_cursor=cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlanOut)
async def create_plan(body: PlanCreate, scope: CatalogWriter, session: Session) -> PlanOut:
    """Create a plan (devops, tenant-admin), e.g. `{"name": "free", "rate_per_second": 5,
    "per_day": 1000}`."""
    created = await service.create_plan(session, scope.principal, scope.tenant, body)
    return PlanOut.model_validate(created)


@router.get("/{plan}", response_model=PlanOut)
async def get_plan(plan: PlanPath, scope: CatalogReader, session: Session) -> PlanOut:
    return PlanOut.model_validate(
        await service.get_plan(session, scope.principal, scope.tenant, plan)
    )


@router.patch("/{plan}", response_model=PlanOut)
async def update_plan(
    plan: PlanPath, body: PlanUpdate, scope: CatalogWriter, session: Session
) -> PlanOut:
    """Change a plan (devops, tenant-admin); new limits reach gateways at their next sync."""
    updated = await service.update_plan(session, scope.principal, scope.tenant, plan, body)
    return PlanOut.model_validate(updated)


@router.delete("/{plan}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_plan(plan: PlanPath, scope: CatalogDeleter, session: Session) -> None:
    """Delete a plan that no subscription holds or held, with its policies (tenant-admin)."""
    await service.delete_plan(session, scope.principal, scope.tenant, plan)
