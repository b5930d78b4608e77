from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class GatewayToken(Timestamps, Base):
    """A credential gateways present to fetch config: for one gateway or a whole fleet.
    Stored as an HMAC digest (`stoa.kit.gateway_token`); the secret is never stored."""

    __tablename__ = "gateway_tokens"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|revoked
    revoked_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(320))
