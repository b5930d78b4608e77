from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from stoa.controlplane.models.base import Base


class AuditChainHead(Base):
    """The tip of one audit chain. Writers lock this row, which serializes appends to the
    chain across control-plane replicas without locking the entries table."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
