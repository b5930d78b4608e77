"""identity

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import stoa.controlplane.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "redirect_uris",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "grant_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=32), nullable=False),
        sa.Column("client_uri", sa.Text(), nullable=True),
        sa.Column("logo_uri", sa.Text(), nullable=True),
        sa.Column("software_id", sa.String(length=200), nullable=True),
        sa.Column("software_version", sa.String(length=100), nullable=True),
        sa.Column("registered_from", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
    )
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column(
            "expires_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_access_tokens")),
    )
    with op.batch_alter_table("revoked_access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revoked_access_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("private_jwk_encrypted", sa.Text(), nullable=False),
        sa.Column(
            "public_jwk",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "retired_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "publish_until", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "user_totp",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column(
            "recovery_code_digests",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "confirmed_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_totp_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_totp")),
    )
    op.create_table(
        "authorization_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=2048), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.String(length=40), nullable=True),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column(
            "auth_time", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "used_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_authorization_codes_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_authorization_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_codes")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_authorization_codes_code_digest")),
    )
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_codes_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=40), nullable=False),
        sa.Column("code_id", sa.String(length=40), nullable=True),
        sa.Column("client_id", sa.String(length=2048), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("application_id", sa.String(length=40), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column(
            "auth_time", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "used_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "revoked_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", stoa.controlplane.models.base.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_refresh_tokens_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_refresh_tokens_token_digest")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_code_id"), ["code_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_refresh_tokens_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_code_id"))

    op.drop_table("refresh_tokens")
    with op.batch_alter_table("authorization_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorization_codes_user_id"))

    op.drop_table("authorization_codes")
    op.drop_table("user_totp")
    op.drop_table("signing_keys")
    with op.batch_alter_table("revoked_access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_access_tokens_expires_at"))

    op.drop_table("revoked_access_tokens")
    op.drop_table("oauth_clients")
