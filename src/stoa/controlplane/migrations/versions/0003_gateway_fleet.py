"""gateway tokens and gateways

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stoa.controlplane.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "revoked_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column(
            "created_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_gateway_tokens_digest")),
    )
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_id", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("served_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "last_seen_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("refused_hash", sa.String(length=64), nullable=True),
        sa.Column("refused_reason", sa.Text(), nullable=True),
        sa.Column(
            "refused_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["gateway_tokens.id"],
            name=op.f("fk_gateways_token_id_gateway_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
        sa.UniqueConstraint(
            "token_id", "instance_id", name=op.f("uq_gateways_token_id_instance_id")
        ),
    )
    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateways_token_id"), ["token_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateways_token_id"))

    op.drop_table("gateways")
    op.drop_table("gateway_tokens")
