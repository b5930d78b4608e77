"""HTTP routes for the audit log: list, export and verify.

cpi-admin reads every chain and may narrow to one tenant; a tenant-admin reads their own
tenant's entries only; anyone else is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from stoa.controlplane.audit import service
from stoa.controlplane.audit.schemas import (
    AuditEntryOut,
    AuditFilters,
    ChainStatusOut,
    ExportFormat,
    VerifyReport,
)
from stoa.controlplane.dependencies import CurrentPrincipal, Pagination, RuntimeDep, Session
from stoa.controlplane.pagination import Page

router = APIRouter(prefix="/v1/audit", tags=["audit"])

TenantSlug = Annotated[
    str | None, Query(max_length=63, description="Tenant slug (cpi-admin: any tenant)")
]


def audit_filters(
    tenant: TenantSlug = None,
    actor: Annotated[str | None, Query(max_length=255, description="Actor's user id")] = None,
    target_type: Annotated[str | None, Query(max_length=32, description="e.g. `user`")] = None,
    target_id: Annotated[str | None, Query(max_length=255)] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. `user.create`")] = None,
    since: Annotated[
        datetime | None, Query(description="ISO 8601, inclusive; UTC when no zone is given")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="ISO 8601, exclusive; UTC when no zone is given")
    ] = None,
) -> AuditFilters:
    return AuditFilters(
        tenant=tenant,
        actor_id=actor,
        target_type=target_type,
        target_id=target_id,
        action=action,
        since=since,
        until=until,
    )


Filters = Annotated[AuditFilters, Depends(audit_filters)]


@router.get("", response_model=Page[AuditEntryOut])
async def list_entries(
    session: Session, principal: CurrentPrincipal, page: Pagination, filters: Filters
) -> Page[AuditEntryOut]:
    """Audit entries, newest first; `next_cursor` leads to older ones."""
    items, cursor = await service.list_entries(session, principal, page, filters)
    return Page(items=[AuditEntryOut.model_validate(e) for e in items], next_cursor=cursor)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {}, "text/csv": {}},
            "description": "Every matching entry, oldest first, as a file download",
        }
    },
)
async def export_entries(
    session: Session,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    filters: Filters,
    export_format: Annotated[ExportFormat, Query(alias="format")] = "jsonl",
) -> StreamingResponse:
    """The entries matching the filters as JSON Lines or CSV, streamed in batches."""
    export = await service.export_entries(
        session, runtime.sessions, principal, filters, export_format
    )
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get("/verify", response_model=VerifyReport)
async def verify(
    session: Session, principal: CurrentPrincipal, tenant: TenantSlug = None
) -> VerifyReport:
    """Recompute the hash chains you may read and report the first broken entry of each:
    an altered entry, a gap, or entries removed from the end."""
    statuses = await service.verify_visible_chains(session, principal, tenant)
    return VerifyReport(
        chains=[ChainStatusOut.model_validate(s) for s in statuses],
        intact=all(s.intact for s in statuses),
    )
