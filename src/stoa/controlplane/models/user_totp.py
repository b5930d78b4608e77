from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base, IdColumn, JsonColumn, Timestamps


class UserTotp(Timestamps, Base):
    """A user's TOTP second factor: the secret encrypted with the master key (`SecretBox`,
    the user id as context) and the digests of the unused recovery codes.

    `confirmed_at` is None while enrolment waits for the first valid code; only a
    confirmed factor is asked for at login. `last_step` refuses a code used twice.
    """

    __tablename__ = "user_totp"

    user_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    recovery_code_digests: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    last_step: Mapped[int | None] = mapped_column()
