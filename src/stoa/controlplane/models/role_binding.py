from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class RoleBinding(Timestamps, Base):
    """Grants `role` to a user, in `tenant_id` (None only for the platform role cpi-admin)."""

    __tablename__ = "role_bindings"
    __table_args__ = (UniqueConstraint("user_id", "tenant_id", "role"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    user_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
