"""HTTP routes for usage: gateways post batches, people read rollups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request

from stoa.contract.usage import MAX_EVENTS_PER_BATCH
from stoa.controlplane.dependencies import CurrentPrincipal, GatewayCaller, RuntimeDep, Session
from stoa.controlplane.usage import service
from stoa.controlplane.usage.schemas import Granularity, IngestResult, UsageFilters, UsageReport
from stoa.kit.errors import InvalidInput

router = APIRouter(tags=["usage"])

# Generous for MAX_EVENTS_PER_BATCH events of a few hundred bytes each.
MAX_BATCH_BYTES = 16 * 1024 * 1024


def usage_sender(caller: GatewayCaller) -> str:
    """Who is posting usage: a gateway token, or a platform admin (like `/v1/snapshot`);
    batch keys are scoped by it."""
    return caller.principal.user_id


UsageSender = Annotated[str, Depends(usage_sender)]


async def _body(request: Request) -> bytes:
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_BATCH_BYTES:
            raise InvalidInput(f"a usage batch is at most {MAX_BATCH_BYTES} bytes")
    return bytes(received)


@router.post(
    "/v1/internal/usage",
    response_model=IngestResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A usage batch (see stoa.contract.usage): `schema_version`, an "
            f"idempotency key `id`, and at most {MAX_EVENTS_PER_BATCH} `events`",
        }
    },
)
async def post_usage(
    session: Session,
    sender: UsageSender,
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> IngestResult:
    """Store a gateway's usage batch once: a batch whose `id` this sender delivered before
    is answered 200 with `duplicate: true` and counted nothing."""
    result = await service.ingest(session, sender, await _body(request))
    if runtime.usage_housekeeper.claim():
        background.add_task(runtime.usage_housekeeper.run)
    return result


def usage_filters(
    granularity: Granularity = "minute",
    since: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="ISO 8601, inclusive; default: 24 h (minute) or "
            "31 days (day) before `to`; UTC when no zone is given",
        ),
    ] = None,
    until: Annotated[
        datetime | None, Query(alias="to", description="ISO 8601, exclusive; default now")
    ] = None,
    tenant: Annotated[str | None, Query(max_length=63, description="The API's tenant slug")] = None,
    application: Annotated[str | None, Query(max_length=64, description="Application id")] = None,
    subscription: Annotated[str | None, Query(max_length=64, description="Subscription id")] = None,
    api: Annotated[str | None, Query(max_length=64, description="API id")] = None,
    tool: Annotated[
        str | None, Query(max_length=255, description="Tool name, or `METHOD /path` for REST")
    ] = None,
) -> UsageFilters:
    return UsageFilters(
        granularity=granularity,
        since=since,
        until=until,
        tenant=tenant,
        application=application,
        subscription=subscription,
        api=api,
        tool=tool,
    )


@router.get("/v1/usage", response_model=UsageReport)
async def get_usage(
    session: Session,
    principal: CurrentPrincipal,
    filters: Annotated[UsageFilters, Depends(usage_filters)],
) -> UsageReport:
    """Usage per minute or day, by tenant, application, subscription, API and tool, that
    you may see: cpi-admin all; tenant roles their tenant's APIs; everyone their own
    applications."""
    return await service.report(session, principal, filters)
