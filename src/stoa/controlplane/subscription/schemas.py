"""Request and response bodies for subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from stoa.controlplane.subscription.transitions import Status

PlanName = Annotated[str, Field(min_length=1, max_length=63, description="A plan's name")]


class ApiRef(BaseModel):
    """An API named the way gateway paths name it: `/proxy/{tenant}/{name}/...`."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=63, description="Slug of the API's tenant")
    name: str = Field(min_length=1, max_length=63, description="The API's name")


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_id: str = Field(min_length=1, max_length=40)
    api: ApiRef
    plan: PlanName = Field(description="Name of a plan of the API's tenant")


class SubscriptionDecision(BaseModel):
    """Optional body of approve, reject, suspend, resume and revoke."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        default="",
        max_length=1000,
        description="Why; shown to both sides until the next change of status",
    )


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlanName = Field(description="Name of another plan of the API's tenant")


class NamedRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str


class ApiSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant: str = Field(description="Slug of the API's tenant, which reviews the subscription")
    name: str


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: Status
    reason: str
    application: NamedRef
    api: ApiSummary
    plan: NamedRef
    created_at: datetime
    updated_at: datetime
