"""Request and response bodies for API keys. Only creation and rotation return a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

KeyState = Literal["active", "expired", "revoked", "rotating"]
KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MAX_GRACE_SECONDS = 30 * 24 * 3600


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(description="What the key is for, e.g. `ci` or `laptop`")
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working; ISO 8601 with a time zone"
    )


class ApiKeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=86400,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="How long the old key keeps working (at most until its own expiry)",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="Expiry of the new key; none by default"
    )


class ApiKeyOut(BaseModel):
    """A key without its secret: `prefix` is enough to recognise it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    application_id: str
    name: str
    prefix: str
    status: KeyState = Field(
        description="`rotating`: replaced by `replaced_by_id`, valid until `expires_at`"
    )
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by_id: str | None
    created_at: datetime


class ApiKeyIssued(ApiKeyOut):
    """A new key with its secret, which is shown this once and never stored."""

    secret: str = Field(description="The whole key, `stoa_sk_…`; store it now")
    replaces: ApiKeyOut | None = Field(
        default=None, description="On rotation: the previous key, now `rotating`"
    )
