from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class Application(Timestamps, Base):
    """A consumer program or agent, owned by one user; it holds subscriptions and keys."""

    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    owner_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The owner's tenant when the application was created (None for platform users).
    tenant_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
