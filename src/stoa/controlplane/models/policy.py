from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, JsonColumn, Timestamps


class Policy(Timestamps, Base):
    """Typed gateway configuration attached to a tenant, one of its APIs, or one of its plans."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    # ip_filter|cors|body_size|headers|tool_filter; `config` is validated per kind.
    kind: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))  # tenant|api|plan
    target_id: Mapped[str] = mapped_column(IdColumn, index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    enabled: Mapped[bool] = mapped_column(default=True)
