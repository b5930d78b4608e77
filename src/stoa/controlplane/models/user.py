from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class User(Timestamps, Base):
    """A person (with a password) or a service account (with a client id and secret)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="human")  # human|service
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|disabled
    password_hash: Mapped[str | None] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(255))
