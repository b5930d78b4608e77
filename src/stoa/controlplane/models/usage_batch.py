from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, utcnow


class UsageBatch(Base):
    """A usage batch received from a gateway: the row that makes a retry a no-op.

    `(sender, batch_key)` is unique: `sender` is who presented the credential (the
    gateway), `batch_key` the idempotency key the gateway chose.
    """

    __tablename__ = "usage_batches"
    __table_args__ = (UniqueConstraint("sender", "batch_key"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    sender: Mapped[str] = mapped_column(String(64))
    batch_key: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(200), default="")
    event_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
