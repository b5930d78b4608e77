"""Request and response bodies for APIs, their tools, and the consumer catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from stoa.controlplane.catalog.lifecycle import Lifecycle
from stoa.kit.naming import SLUG_PATTERN

ApiKind = Literal["rest", "mcp"]
Visibility = Literal["public", "tenant"]
ApiName = Annotated[
    str,
    Field(
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=63,
        description="Lower-case letters, digits and dashes; appears in `/proxy/{tenant}/{api}` "
        "and in tool names `<api>__<tool>`",
    ),
]
Url = Annotated[str, Field(min_length=1, max_length=2048)]
OpenApiDocument = Annotated[
    dict[str, Any] | str,
    Field(description="An OpenAPI 3 document, as a JSON object or as JSON or YAML text"),
]
# An HTTP token (RFC 9110): valid as a header name and harmless as a query parameter name.
_TOKEN_PATTERN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"


class UpstreamAuthIn(BaseModel):
    """The credential the gateway adds to every upstream request (and the control plane to
    its discovery requests). The secret is stored encrypted and never returned."""

    model_config = ConfigDict(extra="forbid")

    location: Literal["header", "query"]
    name: str = Field(
        min_length=1,
        max_length=128,
        pattern=_TOKEN_PATTERN,
        description="Header or query parameter name, e.g. `Authorization` or `api_key`",
    )
    secret: SecretStr = Field(
        min_length=1, max_length=4096, description="The value, e.g. `Bearer s3cr3t`"
    )


class ApiCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ApiName
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    kind: ApiKind
    version: str = Field(default="1.0.0", min_length=1, max_length=64)
    visibility: Visibility = Field(
        default="tenant",
        description="`public`: offered to every tenant; `tenant`: to the API's own tenant only",
    )
    openapi: OpenApiDocument | None = Field(
        default=None, description="rest: the document inline (or give `openapi_url`)"
    )
    openapi_url: Url | None = Field(
        default=None, description="rest: where to fetch the document (or give `openapi`)"
    )
    backend_url: Url | None = Field(
        default=None, description="rest: base URL the gateway forwards calls to"
    )
    mcp_url: Url | None = Field(
        default=None, description="mcp: the upstream server's Streamable HTTP endpoint"
    )
    upstream_auth: UpstreamAuthIn | None = None


class ApiUpdate(BaseModel):
    """Fields left out stay as they are. `upstream_auth: null` removes the credential.
    A new `openapi` or `openapi_url` (rest) or `mcp_url` (mcp) re-derives the tools: tools
    whose name survives keep their enabled flag, vanished ones are deleted, new ones added."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    version: str | None = Field(default=None, min_length=1, max_length=64)
    visibility: Visibility | None = None
    openapi: OpenApiDocument | None = None
    openapi_url: Url | None = None
    backend_url: Url | None = None
    mcp_url: Url | None = None
    upstream_auth: UpstreamAuthIn | None = None


class LifecycleMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Lifecycle = Field(
        description="draft → published (needs an enabled tool), published → deprecated, "
        "deprecated → published, draft | published | deprecated → retired (final)"
    )


class UpstreamAuthOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    location: Literal["header", "query"]
    name: str
    configured: bool = Field(description="Always true: the secret is set but never shown")


class ToolCounts(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    total: int
    enabled: int


class ApiOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    title: str
    description: str
    kind: ApiKind
    version: str
    visibility: Visibility
    lifecycle: Lifecycle
    openapi_url: str | None
    backend_url: str | None
    mcp_url: str | None
    upstream_auth: UpstreamAuthOut | None
    tools: ToolCounts
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ApiDetail(ApiOut):
    openapi: dict[str, Any] | None = Field(description="rest: the stored OpenAPI document")


class ToolOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    annotations: dict[str, Any]
    binding: dict[str, Any] | None = Field(
        description="rest: how the gateway turns arguments into an HTTP request"
    )
    enabled: bool
    created_at: datetime
    updated_at: datetime


class ToolUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="Disabled tools are neither listed nor callable")


class ToolRefresh(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tools: list[ToolOut]
    added: int
    removed: int
    updated: int


class CatalogTool(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any]


class PlanLimits(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rate_per_second: float | None
    burst: int | None
    per_minute: int | None
    per_day: int | None
    per_month: int | None


class CatalogPlan(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    limits: PlanLimits = Field(description="None means unlimited")
    requires_approval: bool
    tool_allowlist: list[str] | None = Field(description="Tools a subscription may call; None: all")


class CatalogEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant: str = Field(description="Slug of the API's tenant")
    name: str
    title: str
    description: str
    kind: ApiKind
    version: str
    visibility: Visibility
    lifecycle: Lifecycle = Field(description="published, or deprecated (no new subscriptions)")
    tools: list[CatalogTool] = Field(description="The enabled tools")
    plans: list[CatalogPlan] = Field(description="The plans the API's tenant offers")
