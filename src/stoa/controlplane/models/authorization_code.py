from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class AuthorizationCode(Timestamps, Base):
    """A one-time authorization code (stored as its SHA-256 digest, never in clear).

    `used_at` is set by the first exchange; a second exchange is refused and revokes the
    refresh token family the first one started (`RefreshToken.code_id`).
    """

    __tablename__ = "authorization_codes"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    # Not a foreign key: a client ID metadata document's client_id is its URL.
    client_id: Mapped[str] = mapped_column(String(2048))
    user_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("applications.id", ondelete="CASCADE")
    )
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    auth_time: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
