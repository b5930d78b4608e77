from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class Gateway(Timestamps, Base):
    """A gateway seen by the control plane, recorded on each sync request it makes.

    A gateway is known by its token and the instance id it keeps in its data dir, so
    several gateways sharing one fleet token are told apart, and a restarted gateway is
    the same row."""

    __tablename__ = "gateways"
    __table_args__ = (UniqueConstraint("token_id", "instance_id"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    token_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("gateway_tokens.id", ondelete="CASCADE"), index=True
    )
    instance_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(255))
    served_hash: Mapped[str | None] = mapped_column(String(64))
    last_seen_at: Mapped[datetime] = mapped_column()
    # The newest snapshot this gateway could not compile, and why.
    refused_hash: Mapped[str | None] = mapped_column(String(64))
    refused_reason: Mapped[str | None] = mapped_column(Text)
    refused_at: Mapped[datetime | None] = mapped_column()
