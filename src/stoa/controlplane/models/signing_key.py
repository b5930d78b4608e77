from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, JsonColumn, Timestamps


class SigningKey(Timestamps, Base):
    """A token signing key of the embedded identity service.

    The private JWK is encrypted with the platform master key (`SecretBox`, the kid as
    context); the public JWK is stored in clear for the JWKS endpoint. The newest key
    without `retired_at` signs; retired keys stay published until every token they
    signed has expired (`publish_until`).
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, object]] = mapped_column(JsonColumn)
    retired_at: Mapped[datetime | None] = mapped_column()
    publish_until: Mapped[datetime | None] = mapped_column()
