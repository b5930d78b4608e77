from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, JsonColumn, Timestamps


class Api(Timestamps, Base):
    """A published product: a REST API (OpenAPI + backend) or an upstream MCP server."""

    __tablename__ = "apis"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(8))  # rest|mcp
    version: Mapped[str] = mapped_column(String(64), default="1.0.0")
    visibility: Mapped[str] = mapped_column(String(16), default="tenant")  # public|tenant
    lifecycle: Mapped[str] = mapped_column(String(16), default="draft")
    openapi: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    openapi_url: Mapped[str | None] = mapped_column(String(2048))
    backend_url: Mapped[str | None] = mapped_column(String(2048))
    mcp_url: Mapped[str | None] = mapped_column(String(2048))
    # The credential the gateway adds upstream: where (header|query), under which name, and
    # the value encrypted with the platform's SecretBox (never returned by the API).
    upstream_auth_location: Mapped[str | None] = mapped_column(String(8))
    upstream_auth_name: Mapped[str | None] = mapped_column(String(128))
    upstream_auth_secret: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column()
