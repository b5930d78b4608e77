"""Request and response bodies for tenants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from stoa.kit.naming import SLUG_PATTERN

TenantStatus = Literal["active", "suspended", "archived"]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, min_length=2, max_length=63)]


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug = Field(description="Lower-case letters, digits and dashes; used in URLs")
    name: str = Field(min_length=1, max_length=200)


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: TenantStatus | None = Field(
        default=None,
        description="`suspended` stops the tenant's APIs and its consumers' keys at the next "
        "gateway sync; `archived` also hides it from the catalog.",
    )


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    slug: str
    name: str
    status: TenantStatus
    created_at: datetime
    updated_at: datetime
