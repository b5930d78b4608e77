"""Request and response bodies for gateway tokens and the fleet. Only creation returns a
token's secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

TokenState = Literal["active", "revoked"]
GatewayStatus = Literal["in_sync", "behind", "unreachable"]
TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
SnapshotHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class GatewayTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName = Field(
        description="What the token is for: one gateway (`edge-paris-1`) or a fleet (`eu`)"
    )


class GatewayTokenOut(BaseModel):
    """A token without its secret: `prefix` is enough to recognise it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    status: TokenState
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class GatewayTokenIssued(GatewayTokenOut):
    secret: str = Field(description="The whole token, `stoa_gw_…`; store it now")


class Refusal(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    hash: str = Field(description="The snapshot the gateway refused")
    reason: str
    at: datetime


class GatewayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    version: str
    address: str
    token_id: str
    served_hash: str | None = Field(description="The snapshot the gateway serves")
    latest_hash: str = Field(description="The snapshot the control plane serves now")
    last_seen_at: datetime
    status: GatewayStatus = Field(
        description="`unreachable`: not seen for `UNREACHABLE_AFTER_SECONDS`; `behind`: "
        "serves another snapshot than the latest; else `in_sync`"
    )
    refused: Refusal | None = Field(
        description="The newest snapshot the gateway could not compile, if any"
    )


class RefusalReport(BaseModel):
    """What a gateway sends when a snapshot does not compile."""

    model_config = ConfigDict(extra="forbid")

    hash: SnapshotHash
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
