"""Request filters and response bodies for the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ExportFormat = Literal["jsonl", "csv"]

# The columns of an export, in order (CSV header and JSON Lines keys).
EXPORT_COLUMNS = (
    "id",
    "chain",
    "seq",
    "at",
    "tenant_id",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "source_ip",
    "user_agent",
    "request_id",
    "before",
    "after",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """What to select. `tenant` is a slug (cpi-admin only narrows with it; a tenant-admin
    may name only their own tenant); times are inclusive `since`, exclusive `until`."""

    tenant: str | None = None
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    chain: str = Field(description="The tenant id, or `platform` for platform-wide acts")
    seq: int = Field(description="Position in the chain, from 1")
    at: datetime
    tenant_id: str | None
    actor_id: str
    actor_label: str = Field(description="The actor's email or service-account name")
    action: str = Field(description="`<target>.<verb>`, e.g. `user.create`")
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    source_ip: str | None
    user_agent: str | None
    request_id: str | None
    prev_hash: str
    hash: str


class ChainStatusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain: str
    tenant: str | None = Field(
        description="Slug of the chain's tenant; None for `platform` and deleted tenants"
    )
    entries: int = Field(description="Entries read until the first problem, or all")
    intact: bool
    first_broken_seq: int | None
    first_broken_id: str | None = Field(
        description="The altered or misplaced entry; None when entries were removed at the end"
    )
    problem: str | None


class VerifyReport(BaseModel):
    chains: list[ChainStatusOut]
    intact: bool = Field(description="True when every chain reported is intact")
