from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, Timestamps


class Subscription(Timestamps, Base):
    """An application's right to call one API under one plan of the API's tenant."""

    __tablename__ = "subscriptions"
    # At most one live (pending, active or suspended) subscription per application and API,
    # enforced by the database so two simultaneous requests cannot both create one.
    __table_args__ = (
        Index(
            "uq_subscriptions_live_application_api",
            "application_id",
            "api_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'active', 'suspended')"),
            sqlite_where=text("status IN ('pending', 'active', 'suspended')"),
        ),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    application_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    api_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("apis.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("plans.id", ondelete="RESTRICT"))
    # The API's (provider's) tenant: whose admins approve, suspend and see it.
    tenant_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))  # pending|active|suspended|revoked|rejected
    reason: Mapped[str] = mapped_column(Text, default="")
