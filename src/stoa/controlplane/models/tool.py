from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, JsonColumn, Timestamps


class Tool(Timestamps, Base):
    """One callable tool of an API: an OpenAPI operation or an upstream MCP tool."""

    __tablename__ = "tools"
    __table_args__ = (UniqueConstraint("api_id", "name"),)

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True)
    api_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("apis.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    input_schema: Mapped[dict[str, Any]] = mapped_column(JsonColumn)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    annotations: Mapped[dict[str, Any]] = mapped_column(JsonColumn, default=dict)
    # For REST tools: how the gateway turns arguments into an HTTP request.
    binding: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    enabled: Mapped[bool] = mapped_column(default=True)
