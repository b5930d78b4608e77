"""Request and response bodies for applications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ApplicationName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
Description = Annotated[str, Field(max_length=2000)]


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ApplicationName = Field(description="Unique among the owner's applications")
    description: Description = ""


class ApplicationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ApplicationName | None = None
    description: Description | None = None


class ApplicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    owner_id: str = Field(description="The user who created it")
    tenant_id: str | None = Field(
        description="The owner's tenant at creation; null for a platform user's application"
    )
    created_at: datetime
    updated_at: datetime
