"""What the catalog's services return and its schemas read: rows without secrets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stoa.controlplane.models import Api, Plan, Tool


@dataclass(frozen=True, slots=True)
class UpstreamAuthView:
    location: str
    name: str
    configured: bool = True


@dataclass(frozen=True, slots=True)
class ToolCountsView:
    total: int
    enabled: int


@dataclass(frozen=True, slots=True)
class ApiView:
    """An API as its tenant sees it: the row without the secret, with tool counts."""

    id: str
    name: str
    title: str
    description: str
    kind: str
    version: str
    visibility: str
    lifecycle: str
    openapi: dict[str, Any] | None
    openapi_url: str | None
    backend_url: str | None
    mcp_url: str | None
    upstream_auth: UpstreamAuthView | None
    tools: ToolCountsView
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshView:
    tools: list[Tool]
    added: int
    removed: int
    updated: int


@dataclass(frozen=True, slots=True)
class PlanLimitsView:
    rate_per_second: float | None
    burst: int | None
    per_minute: int | None
    per_day: int | None
    per_month: int | None


@dataclass(frozen=True, slots=True)
class CatalogPlanView:
    id: str
    name: str
    description: str
    limits: PlanLimitsView
    requires_approval: bool
    tool_allowlist: list[str] | None


@dataclass(frozen=True, slots=True)
class CatalogView:
    """An API as a consumer sees it in the catalog."""

    tenant: str
    name: str
    title: str
    description: str
    kind: str
    version: str
    visibility: str
    lifecycle: str
    tools: list[Tool]
    plans: list[CatalogPlanView]


def api_view(api: Api, counts: tuple[int, int]) -> ApiView:
    auth = None
    if api.upstream_auth_location and api.upstream_auth_name and api.upstream_auth_secret:
        auth = UpstreamAuthView(location=api.upstream_auth_location, name=api.upstream_auth_name)
    return ApiView(
        id=api.id,
        name=api.name,
        title=api.title,
        description=api.description,
        kind=api.kind,
        version=api.version,
        visibility=api.visibility,
        lifecycle=api.lifecycle,
        openapi=api.openapi,
        openapi_url=api.openapi_url,
        backend_url=api.backend_url,
        mcp_url=api.mcp_url,
        upstream_auth=auth,
        tools=ToolCountsView(*counts),
        published_at=api.published_at,
        created_at=api.created_at,
        updated_at=api.updated_at,
    )


def plan_view(plan: Plan) -> CatalogPlanView:
    return CatalogPlanView(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        limits=PlanLimitsView(
            rate_per_second=plan.rate_per_second,
            burst=plan.burst,
            per_minute=plan.per_minute,
            per_day=plan.per_day,
            per_month=plan.per_month,
        ),
        requires_approval=plan.requires_approval,
        tool_allowlist=plan.tool_allowlist,
    )
