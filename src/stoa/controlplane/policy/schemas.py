"""Request and response bodies for policies.

A policy is gateway configuration of one `kind`, attached to a target: the whole tenant,
one of its APIs, or one of its plans (then it applies to calls made under a subscription
on that plan). The `config` of each kind is defined and normalized in `policy.config`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from stoa.controlplane.partial_update import reject_explicit_nulls
from stoa.controlplane.policy.config import (
    BodySizePolicy,
    CorsPolicy,
    HeadersPolicy,
    IpFilterPolicy,
    PolicyKind,
    ToolFilterPolicy,
)
from stoa.kit.naming import SLUG_PATTERN

TargetType = Literal["tenant", "api", "plan"]
PolicyName = Annotated[
    str,
    Field(
        pattern=SLUG_PATTERN,
        min_length=1,
        max_length=63,
        description="Lower-case letters, digits and dashes, unique in the tenant",
    ),
]


class TargetRef(BaseModel):
    """What the policy applies to, by name: `{"type": "api", "name": "weather"}`,
    `{"type": "plan", "name": "free"}` or `{"type": "tenant"}`."""

    model_config = ConfigDict(extra="forbid")

    type: TargetType = Field(
        description="`tenant`: every API of the tenant; `api`: one API; `plan`: calls made "
        "under subscriptions on one plan"
    )
    name: str | None = Field(
        default=None,
        max_length=63,
        description="The API's or plan's name in this tenant; for a tenant, leave it out "
        "(or give the tenant's own slug)",
    )

    @model_validator(mode="after")
    def _named(self) -> Self:
        if self.type != "tenant" and not self.name:
            raise PydanticCustomError(
                "target_unnamed",
                "name the {type} this policy applies to, e.g. {example}",
                {
                    "type": self.type,
                    "example": f'{{"type": "{self.type}", "name": "weather"}}'
                    if self.type == "api"
                    else f'{{"type": "{self.type}", "name": "free"}}',
                },
            )
        return self


class _PolicyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PolicyName
    target: TargetRef
    enabled: bool = Field(default=True, description="Disabled policies are not sent to gateways")


class IpFilterPolicyCreate(_PolicyFields, IpFilterPolicy):
    """`ip_filter`: admit or refuse callers by IP address."""


class CorsPolicyCreate(_PolicyFields, CorsPolicy):
    """`cors`: answer browser preflights and add CORS headers (tenant or API targets)."""


class BodySizePolicyCreate(_PolicyFields, BodySizePolicy):
    """`body_size`: refuse request bodies above a size."""


class HeadersPolicyCreate(_PolicyFields, HeadersPolicy):
    """`headers`: set or remove headers on the request sent upstream."""


class ToolFilterPolicyCreate(_PolicyFields, ToolFilterPolicy):
    """`tool_filter`: narrow the MCP tools callers see and may call."""


PolicyCreateBody = (
    IpFilterPolicyCreate
    | CorsPolicyCreate
    | BodySizePolicyCreate
    | HeadersPolicyCreate
    | ToolFilterPolicyCreate
)
PolicyCreate = Annotated[PolicyCreateBody, Field(discriminator="kind")]


class PolicyUpdate(BaseModel):
    """Fields to change. `kind` and `target` cannot change: create another policy."""

    model_config = ConfigDict(extra="forbid")

    name: PolicyName | None = None
    config: dict[str, Any] | None = Field(
        default=None,
        description="A whole new config, validated against the policy's kind (it replaces "
        "the old one; it is not merged into it)",
    )
    enabled: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        reject_explicit_nulls(self, ("name", "config", "enabled"))
        return self


class TargetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: TargetType
    id: str
    name: str | None = Field(
        description="The tenant's slug, or the API's or plan's name; null if it no longer exists"
    )


class PolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: str
    name: str
    kind: PolicyKind
    target: TargetOut
    config: dict[str, Any] = Field(
        description="The config as gateways receive it: normalized, with every default"
    )
    enabled: bool
    created_at: datetime
    updated_at: datetime
