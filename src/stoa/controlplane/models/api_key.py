from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class ApiKey(Timestamps, Base):
    """An application credential, stored as an HMAC digest; the secret is never stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    application_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|revoked
    # Set at creation (optional expiry) or by rotation (end of the grace period).
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    replaced_by_id: Mapped[str | None] = mapped_column(IdColumn)
