from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class RefreshToken(Timestamps, Base):
    """A refresh token (stored as its SHA-256 digest), one link of a rotation family.

    Each use rotates: the presented token gets `used_at` and a new one joins the same
    `family_id`. Presenting a used token again means it leaked, so the whole family is
    revoked (`revoked_at` on every member).
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[str] = mapped_column(IdColumn, index=True)
    code_id: Mapped[str | None] = mapped_column(IdColumn, index=True)
    client_id: Mapped[str] = mapped_column(String(2048))
    user_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("applications.id", ondelete="CASCADE")
    )
    scope: Mapped[str] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(Text)
    auth_time: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
