from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, JsonColumn, utcnow


class AuditEntry(Base):
    """One mutation. Entries of a chain (a tenant, or `platform`) are hash-linked in `seq`
    order: `hash = sha256(prev_hash + canonical JSON of the entry)`."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_entries_at", "at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    chain: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    tenant_id: Mapped[str | None] = mapped_column(IdColumn, index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[str] = mapped_column(String(255), index=True)
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(255), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
