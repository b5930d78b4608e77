"""Request filters and response bodies for usage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Granularity = Literal["minute", "day"]


@dataclass(frozen=True, slots=True)
class UsageFilters:
    """What to select. `tenant` is a slug (the API's tenant); the other ids are ids;
    `tool` is the tool name of MCP calls or `METHOD /path` of REST calls. Times are an
    inclusive `since` and exclusive `until`, compared with the bucket starts."""

    granularity: Granularity = "minute"
    since: datetime | None = None
    until: datetime | None = None
    tenant: str | None = None
    application: str | None = None
    subscription: str | None = None
    api: str | None = None
    tool: str | None = None


class LatencyOut(BaseModel):
    avg: float | None = Field(description="Mean, milliseconds; None without calls")
    p50: float | None
    p95: float | None
    p99: float | None


class UsageStatsOut(BaseModel):
    count: int
    errors: int = Field(description="Calls answered with status 400 or above")
    server_errors: int = Field(description="Calls answered with 500 or above, or unanswered")
    latency_ms: LatencyOut = Field(
        description="From fixed-bucket histograms: exact to the bucket, interpolated inside it"
    )
    request_bytes: int
    response_bytes: int


class UsageRowOut(UsageStatsOut):
    bucket: datetime = Field(description="Start of the minute or day (UTC)")
    tenant_id: str = Field(description="The tenant that owns the API")
    application_id: str
    subscription_id: str
    api_id: str
    tool: str = Field(
        description="Tool name: the MCP tool, or the REST operation (its `operationId`); "
        "a REST call matching no operation counts as `METHOD (no operation)`, and the calls "
        "of a REST API without operations as `METHOD /path`"
    )


class UsageReport(BaseModel):
    granularity: Granularity
    since: datetime
    until: datetime
    items: list[UsageRowOut]
    total: UsageStatsOut = Field(description="All items together")


class IngestResult(BaseModel):
    batch: str = Field(description="The batch's idempotency key")
    events: int = Field(description="Events in the batch")
    duplicate: bool = Field(
        description="True when this batch had already been stored; nothing was counted again"
    )
