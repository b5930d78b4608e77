"""Request and response bodies for plans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stoa.controlplane.partial_update import reject_explicit_nulls
from stoa.controlplane.policy.config import ToolName, normalized_tool_names
from stoa.kit.naming import SLUG_PATTERN

# Limits are stored as 32-bit integers on every backend.
MAX_LIMIT = 2_147_483_647
MAX_RATE = 1_000_000.0

PlanName = Annotated[
    str,
    Field(
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=63,
        description="Lower-case letters, digits and dashes, unique in the tenant; "
        "used in paths and subscriptions",
    ),
]
Description = Annotated[str, Field(max_length=2000)]
RatePerSecond = Annotated[
    float,
    Field(
        gt=0,
        le=MAX_RATE,
        allow_inf_nan=False,
        description="Sustained calls per second per subscription (token bucket); null for "
        "no rate limit. Sending it without `burst` sets `burst` to its ceiling.",
    ),
]
Burst = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_LIMIT,
        description="Calls allowed at once above the rate (the bucket's size); needs "
        "`rate_per_second`",
    ),
]
Quota = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
ToolAllowlist = Annotated[
    list[ToolName],
    Field(
        max_length=1000,
        description="Tool names (as their API names them) a subscription may call; null for "
        "every tool",
    ),
]


def _tool_allowlist(names: list[str] | None) -> list[str] | None:
    return normalized_tool_names(names)


class PlanCreate(BaseModel):
    """A plan; every limit left out or null is unlimited."""

    model_config = ConfigDict(extra="forbid")

    name: PlanName
    description: Description = ""
    rate_per_second: RatePerSecond | None = None
    burst: Burst | None = None
    per_minute: Quota | None = Field(default=None, description="Calls per minute")
    per_day: Quota | None = Field(default=None, description="Calls per UTC day")
    per_month: Quota | None = Field(default=None, description="Calls per UTC calendar month")
    requires_approval: bool = Field(
        default=False,
        description="Subscriptions wait (`pending`) until a tenant-admin approves them",
    )
    tool_allowlist: ToolAllowlist | None = None

    _check_tools = field_validator("tool_allowlist")(_tool_allowlist)


class PlanUpdate(BaseModel):
    """Fields to change; a limit sent as null becomes unlimited."""

    model_config = ConfigDict(extra="forbid")

    name: PlanName | None = None
    description: Description | None = None
    rate_per_second: RatePerSecond | None = None
    burst: Burst | None = None
    per_minute: Quota | None = None
    per_day: Quota | None = None
    per_month: Quota | None = None
    requires_approval: bool | None = Field(
        default=None, description="Applies to new subscriptions; existing ones keep their status"
    )
    tool_allowlist: ToolAllowlist | None = None

    _check_tools = field_validator("tool_allowlist")(_tool_allowlist)

    @model_validator(mode="after")
    def _no_null_where_null_means_nothing(self) -> Self:
        reject_explicit_nulls(self, ("name", "description", "requires_approval"))
        return self


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    name: str
    description: str
    rate_per_second: float | None
    burst: int | None
    per_minute: int | None
    per_day: int | None
    per_month: int | None
    requires_approval: bool
    tool_allowlist: list[str] | None
    created_at: datetime
    updated_at: datetime
