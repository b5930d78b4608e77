"""HTTP routes for policies: `/v1/tenants/{tenant}/policies/{policy}`, `{policy}` being its
name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, status

from stoa.controlplane.dependencies import (
    CatalogDeleter,
    CatalogReader,
    CatalogWriter,
    Pagination,
    Session,
)
from stoa.controlplane.pagination import Page
from stoa.controlplane.policy import service
from stoa.controlplane.policy.config import PolicyKind
from stoa.controlplane.policy.schemas import PolicyCreate, PolicyOut, PolicyUpdate, TargetType

router = APIRouter(prefix="/v1/tenants/{tenant}/policies", tags=["policies"])

PolicyPath = Annotated[str, Path(max_length=63, description="The policy's name")]


@router.get("", response_model=Page[PolicyOut])
async def list_policies(
    scope: CatalogReader,
    session: Session,
    page: Pagination,
    kind: Annotated[PolicyKind | None, Query()] = None,
    target_type: Annotated[TargetType | None, Query()] = None,
    target_id: Annotated[
        str | None, Query(max_length=40, description="Id of the tenant, API or plan")
    ] = None,
    enabled: Annotated[bool | None, Query()] = None,
) -> Page[PolicyOut]:
    """The tenant's policies (viewer, devops, tenant-admin)."""
    items, cursor = await service.list_policies(
        session,
        scope.principal,
        scope.tenant,
        page,
        kind=kind,
        target_type=target_type,
        target_id=target_id,
        enabled=enabled,
    )
    return Page(items=[PolicyOut.model_validate(p) for p in items], next_cursor=cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PolicyOut)
async def create_policy(
    body: Annotated[PolicyCreate, Body()], scope: CatalogWriter, session: Session
) -> PolicyOut:
    """Attach a policy (devops, tenant-admin), e.g. `{"name": "office-only", "kind":
    "ip_filter", "target": {"type": "api", "name": "weather"}, "config": {"allow":
    ["203.0.113.0/24"]}}`. The config is normalized; the answer shows it as gateways will
    receive it at their next sync."""
    created = await service.create_policy(session, scope.principal, scope.tenant, body)
    return PolicyOut.model_validate(created)


@router.get("/{policy}", response_model=PolicyOut)
async def get_policy(policy: PolicyPath, scope: CatalogReader, session: Session) -> PolicyOut:
    return PolicyOut.model_validate(
        await service.get_policy(session, scope.principal, scope.tenant, policy)
    )


@router.patch("/{policy}", response_model=PolicyOut)
async def update_policy(
    policy: PolicyPath, body: PolicyUpdate, scope: CatalogWriter, session: Session
) -> PolicyOut:
    """Rename, replace the config or enable/disable a policy (devops, tenant-admin)."""
    updated = await service.update_policy(session, scope.principal, scope.tenant, policy, body)
    return PolicyOut.model_validate(updated)


@router.delete("/{policy}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(policy: PolicyPath, scope: CatalogDeleter, session: Session) -> None:
    """Delete a policy (tenant-admin)."""
    await service.delete_policy(session, scope.principal, scope.tenant, policy)
