from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, JsonColumn, Timestamps


class OAuthClient(Timestamps, Base):
    """An OAuth client registered through dynamic client registration (RFC 7591).

    Only public clients (`token_endpoint_auth_method` "none", PKCE mandatory) register
    this way. Service accounts (`users.client_id`) and client ID metadata documents (an
    https URL as client id) are clients too, but not rows of this table.
    """

    __tablename__ = "oauth_clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the client_id
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JsonColumn)
    grant_types: Mapped[list[str]] = mapped_column(JsonColumn)
    scope: Mapped[str] = mapped_column(Text)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32), default="none")
    client_uri: Mapped[str | None] = mapped_column(Text)
    logo_uri: Mapped[str | None] = mapped_column(Text)
    software_id: Mapped[str | None] = mapped_column(String(200))
    software_version: Mapped[str | None] = mapped_column(String(100))
    registered_from: Mapped[str | None] = mapped_column(String(64))  # the registering IP
