from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, JsonColumn, Timestamps


class Plan(Timestamps, Base):
    """Limits and terms a tenant offers for subscriptions to its APIs. None = unlimited."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text, default="")
    rate_per_second: Mapped[float | None] = mapped_column()
    burst: Mapped[int | None] = mapped_column()
    per_minute: Mapped[int | None] = mapped_column()
    per_day: Mapped[int | None] = mapped_column()
    per_month: Mapped[int | None] = mapped_column()
    requires_approval: Mapped[bool] = mapped_column(default=False)
    # Tool names (as the API names them) a subscription may call; None = all tools.
    tool_allowlist: Mapped[list[str] | None] = mapped_column(JsonColumn)
