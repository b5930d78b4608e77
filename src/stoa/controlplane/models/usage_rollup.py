from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base


class UsageRollup(Base):
    """Usage summed over one minute or one day, per tenant, application, subscription, API
    and route (tool name, or `METHOD /path`).

    Rows merge by adding every numeric column, which is why latency is kept as a
    histogram (`h00`..`h19`, counts per bucket of `usage.histogram.BOUNDS_MS`) rather than
    as percentiles: percentiles of several rows are read from their summed histograms.
    """

    __tablename__ = "usage_rollups"
    __table_args__ = (
        Index("ix_usage_rollups_tenant", "granularity", "tenant_id", "bucket"),
        Index("ix_usage_rollups_application", "granularity", "application_id", "bucket"),
    )

    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)  # minute | day
    bucket: Mapped[datetime] = mapped_column(primary_key=True)  # start of the minute or day
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    route: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)  # status >= 400
    server_errors: Mapped[int] = mapped_column(BigInteger)  # status >= 500 (or no answer)
    latency_ms_sum: Mapped[float] = mapped_column(Float)
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    response_bytes: Mapped[int] = mapped_column(BigInteger)
    h00: Mapped[int] = mapped_column(BigInteger, default=0)
    h01: Mapped[int] = mapped_column(BigInteger, default=0)
    h02: Mapped[int] = mapped_column(BigInteger, default=0)
    h03: Mapped[int] = mapped_column(BigInteger, default=0)
    h04: Mapped[int] = mapped_column(BigInteger, default=0)
    h05: Mapped[int] = mapped_column(BigInteger, default=0)
    h06: Mapped[int] = mapped_column(BigInteger, default=0)
    h07: Mapped[int] = mapped_column(BigInteger, default=0)
    h08: Mapped[int] = mapped_column(BigInteger, default=0)
    h09: Mapped[int] = mapped_column(BigInteger, default=0)
    h10: Mapped[int] = mapped_column(BigInteger, default=0)
    h11: Mapped[int] = mapped_column(BigInteger, default=0)
    h12: Mapped[int] = mapped_column(BigInteger, default=0)
    h13: Mapped[int] = mapped_column(BigInteger, default=0)
    h14: Mapped[int] = mapped_column(BigInteger, default=0)
    h15: Mapped[int] = mapped_column(BigInteger, default=0)
    h16: Mapped[int] = mapped_column(BigInteger, default=0)
    h17: Mapped[int] = mapped_column(BigInteger, default=0)
    h18: Mapped[int] = mapped_column(BigInteger, default=0)
    h19: Mapped[int] = mapped_column(BigInteger, default=0)
