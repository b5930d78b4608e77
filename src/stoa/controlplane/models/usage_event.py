from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn


class UsageEvent(Base):
    """One call reported by a gateway, kept as received.

    The ids are not foreign keys on purpose: an application or API deleted after the call
    must not make the gateway's batch undeliverable, and its usage stays countable.
    """

    __tablename__ = "usage_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    batch_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("usage_batches.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(index=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    application_id: Mapped[str] = mapped_column(String(64))
    subscription_id: Mapped[str] = mapped_column(String(64))
    api_id: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(255))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    response_bytes: Mapped[int] = mapped_column(BigInteger)
