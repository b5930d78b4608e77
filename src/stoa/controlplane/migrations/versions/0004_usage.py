"""usage

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import stoa.controlplane.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_batches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("batch_key", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column(
            "received_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_batches")),
        sa.UniqueConstraint("sender", "batch_key", name=op.f("uq_usage_batches_sender_batch_key")),
    )
    with op.batch_alter_table("usage_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_batches_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "usage_rollups",
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column(
            "bucket", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("api_id", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("server_errors", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("h00", sa.BigInteger(), nullable=False),
        sa.Column("h01", sa.BigInteger(), nullable=False),
        sa.Column("h02", sa.BigInteger(), nullable=False),
        sa.Column("h03", sa.BigInteger(), nullable=False),
        sa.Column("h04", sa.BigInteger(), nullable=False),
        sa.Column("h05", sa.BigInteger(), nullable=False),
        sa.Column("h06", sa.BigInteger(), nullable=False),
        sa.Column("h07", sa.BigInteger(), nullable=False),
        sa.Column("h08", sa.BigInteger(), nullable=False),
        sa.Column("h09", sa.BigInteger(), nullable=False),
        sa.Column("h10", sa.BigInteger(), nullable=False),
        sa.Column("h11", sa.BigInteger(), nullable=False),
        sa.Column("h12", sa.BigInteger(), nullable=False),
        sa.Column("h13", sa.BigInteger(), nullable=False),
        sa.Column("h14", sa.BigInteger(), nullable=False),
        sa.Column("h15", sa.BigInteger(), nullable=False),
        sa.Column("h16", sa.BigInteger(), nullable=False),
        sa.Column("h17", sa.BigInteger(), nullable=False),
        sa.Column("h18", sa.BigInteger(), nullable=False),
        sa.Column("h19", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "granularity",
            "bucket",
            "tenant_id",
            "application_id",
            "subscription_id",
            "api_id",
            "route",
            name=op.f("pk_usage_rollups"),
        ),
    )
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_rollups_application",
            ["granularity", "application_id", "bucket"],
            unique=False,
        )
        batch_op.create_index(
            "ix_usage_rollups_tenant", ["granularity", "tenant_id", "bucket"], unique=False
        )

    op.create_table(
        "usage_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("api_id", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=255), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["usage_batches.id"],
            name=op.f("fk_usage_events_batch_id_usage_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_events_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_events_batch_id"))
        batch_op.drop_index(batch_op.f("ix_usage_events_at"))

    op.drop_table("usage_events")
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_rollups_tenant")
        batch_op.drop_index("ix_usage_rollups_application")

    op.drop_table("usage_rollups")
    with op.batch_alter_table("usage_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_batches_received_at"))

    op.drop_table("usage_batches")
