"""Usage: taking batches from gateways once each, and reporting rollups to those who may
see them.

Who sees what (GET /v1/usage): cpi-admin everything; a user with a tenant role (viewer,
devops, tenant-admin) the usage of their tenant's APIs; everyone their own applications'
usage. Filters only narrow that.

Taking a batch writes no audit entry: it is telemetry arriving every second from every
gateway worker, not a change anyone made to the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.contract.usage import UsageBatchError, UsageRecord, decode_usage_batch
from stoa.controlplane.authz import Action, can
from stoa.controlplane.models import UsageRollup
from stoa.controlplane.principal import Principal
from stoa.controlplane.tenant import repository as tenant_repository
from stoa.controlplane.usage import histogram, repository
from stoa.controlplane.usage.operations import OperationNames, is_rest_route
from stoa.controlplane.usage.rollup import Totals, roll_up, row_values
from stoa.controlplane.usage.schemas import (
    IngestResult,
    LatencyOut,
    UsageFilters,
    UsageReport,
    UsageRowOut,
    UsageStatsOut,
)
from stoa.kit.errors import InvalidInput, NotFound
from stoa.kit.ids import new_id

MAX_ROWS = 10_000
_DEFAULT_SPAN = {"minute": timedelta(hours=24), "day": timedelta(days=31)}


async def ingest(session: AsyncSession, sender: str, body: bytes) -> IngestResult:
    """Store the batch in `body` and add it to the rollups, unless `sender` delivered
    it before: then nothing is written and the answer says `duplicate`.

    Raises `InvalidInput` for anything that is not a valid batch (nothing is written).
    """
    try:
        batch = decode_usage_batch(body)
    except UsageBatchError as exc:
        raise InvalidInput(str(exc)) from exc
    batch_id = new_id("ubt")
    fresh = await repository.claim_batch(
        session,
        batch_id=batch_id,
        sender=sender,
        key=batch.id,
        origin=batch.origin,
        events=len(batch.events),
    )
    if fresh and batch.events:
        await repository.add_events(session, batch_id, batch.events)
        named = await _by_operation(session, batch.events)
        rows = [row_values(key, totals) for key, totals in roll_up(named).items()]
        await repository.add_to_rollups(session, rows)
    return IngestResult(batch=batch.id, events=len(batch.events), duplicate=not fresh)


async def _by_operation(session: AsyncSession, records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """`records` with REST calls renamed to their API's operation (see `operations`)."""
    rest_apis = sorted({record.api_id for record in records if is_rest_route(record.route)})
    if not rest_apis:
        return list(records)
    tools: dict[str, list[tuple[str, dict[str, Any] | None]]] = {api: [] for api in rest_apis}
    for api_id, name, binding in await repository.tool_bindings(session, rest_apis):
        tools[api_id].append((name, binding))
    # An API without known operations (no OpenAPI document) keeps its paths as called.
    names = {
        api_id: named
        for api_id, entries in tools.items()
        if (named := OperationNames(entries)).known
    }
    return [
        msgspec.structs.replace(record, route=names[record.api_id].name_of(record.route))
        if record.api_id in names and is_rest_route(record.route)
        else record
        for record in records
    ]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def report(session: AsyncSession, principal: Principal, filters: UsageFilters) -> UsageReport:
    """The rollup rows matching `filters` that `principal` may see, and their total.

    Raises `NotFound` for a tenant or application that does not exist or that the caller
    may not know, `InvalidInput` for an empty time range or more than `MAX_ROWS` rows.
    """
    until = _utc(filters.until) if filters.until else datetime.now(UTC)
    since = _utc(filters.since) if filters.since else until - _DEFAULT_SPAN[filters.granularity]
    if since >= until:
        raise InvalidInput("`from` must be before `to`")
    tenant_id = None
    if filters.tenant is not None:
        tenant = await tenant_repository.by_slug(session, filters.tenant)
        if tenant is None:
            raise NotFound(f"tenant {filters.tenant} does not exist")
        tenant_id = tenant.id
    tenant_reader = principal.tenant_id is not None and can(
        principal, Action.SUBSCRIPTION_READ, principal.tenant_id
    )
    if filters.application is not None and not principal.is_platform_admin:
        found = await repository.application(session, filters.application)
        if found is None or (found.owner_id != principal.user_id and not tenant_reader):
            raise NotFound(f"application {filters.application} does not exist")
    query = repository.RollupQuery(
        granularity=filters.granularity,
        since=since,
        until=until,
        all_tenants=principal.is_platform_admin,
        visible_tenant_ids=(principal.tenant_id,) if tenant_reader and principal.tenant_id else (),
        visible_application_ids=tuple(
            await repository.applications_owned_by(session, principal.user_id)
        ),
        tenant_id=tenant_id,
        application_id=filters.application,
        subscription_id=filters.subscription,
        api_id=filters.api,
        route=filters.tool,
    )
    rows = await repository.rollups(session, query, limit=MAX_ROWS + 1)
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"more than {MAX_ROWS} rows match: narrow the time range or add filters")
    total = Totals()
    items: list[UsageRowOut] = []
    for row in rows:
        totals = _totals_of(row)
        total.add(totals)
        items.append(
            UsageRowOut(
                bucket=row.bucket,
                tenant_id=row.tenant_id,
                application_id=row.application_id,
                subscription_id=row.subscription_id,
                api_id=row.api_id,
                tool=row.route,
                **_stats(totals).model_dump(),
            )
        )
    return UsageReport(
        granularity=filters.granularity,
        since=since,
        until=until,
        items=items,
        total=_stats(total),
    )


def _totals_of(row: UsageRollup) -> Totals:
    return Totals(
        count=row.count,
        errors=row.errors,
        server_errors=row.server_errors,
        latency_ms_sum=row.latency_ms_sum,
        request_bytes=row.request_bytes,
        response_bytes=row.response_bytes,
        latency=[getattr(row, column) for column in histogram.COLUMNS],
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _stats(totals: Totals) -> UsageStatsOut:
    counts: Sequence[int] = totals.latency
    return UsageStatsOut(
        count=totals.count,
        errors=totals.errors,
        server_errors=totals.server_errors,
        latency_ms=LatencyOut(
            avg=_rounded(totals.latency_ms_sum / totals.count) if totals.count else None,
            p50=_rounded(histogram.percentile(counts, 0.50)),
            p95=_rounded(histogram.percentile(counts, 0.95)),
            p99=_rounded(histogram.percentile(counts, 0.99)),
        ),
        request_bytes=totals.request_bytes,
        response_bytes=totals.response_bytes,
    )
