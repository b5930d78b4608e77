from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base


class RevokedAccessToken(Base):
    """An access token revoked before its expiry (RFC 7009), by `jti`.

    Introspection and UserInfo refuse it; the row can be dropped after `expires_at`.
    """

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
