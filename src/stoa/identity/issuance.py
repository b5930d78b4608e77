"""Issuing the tokens of a successful grant: access token, ID token, refresh token.

Roles and tenant are read from the database at every issuance (a refresh picks up role
changes); a disabled user gets nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import RefreshToken, Tenant, User
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.user import service as user_service
from stoa.identity.config import ADMIN_SCOPE, ADMIN_SCOPE_ROLES, IdentityConfig
from stoa.identity.signing_keys import current_signing_key
from stoa.identity.tokens import mint_access_token, sign
from stoa.kit.crypto import SecretBox
from stoa.kit.ids import new_id


def digest(secret: str) -> str:
    """How codes and refresh tokens are stored: SHA-256 hex (they are random, 256 bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Subject:
    """The user a token is about, with what goes into its claims."""

    user: User
    roles: tuple[str, ...]
    tenant: str | None


async def subject_of(session: AsyncSession, user: User) -> Subject:
    roles = await user_service.roles_of(session, user)
    tenant = await session.get(Tenant, user.tenant_id) if user.tenant_id else None
    return Subject(user, tuple(roles), tenant.slug if tenant else None)


def granted_scopes(requested: list[str], roles: tuple[str, ...]) -> list[str]:
    """`requested` minus `stoa:admin` for users who hold no admin role (RFC 6749 §3.3 lets
    the server grant less than asked; the response says what was granted)."""
    if ADMIN_SCOPE_ROLES.isdisjoint(roles):
        return [scope for scope in requested if scope != ADMIN_SCOPE]
    return list(requested)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a successful grant issues tokens for."""

    subject: Subject
    client_id: str
    scopes: list[str]
    audience: str
    resource: str | None
    application_id: str | None
    auth_time: datetime | None = None
    nonce: str | None = None


async def issue(
    session: AsyncSession,
    box: SecretBox,
    config: IdentityConfig,
    grant: Grant,
    *,
    refresh_family: str | None = None,
    with_refresh: bool = False,
    code_id: str | None = None,
) -> dict[str, Any]:
    """The token response (RFC 6749 §5.1) for `grant`; a refresh token row is added to
    `session` when `with_refresh` (in `refresh_family`, or a new family)."""
    key = await current_signing_key(session, box)
    now = int(time.time())
    user = grant.subject.user
    scope = " ".join(grant.scopes)
    response: dict[str, Any] = {
        "access_token": mint_access_token(
            key,
            issuer=config.issuer,
            audience=grant.audience,
            subject=user.id,
            roles=grant.subject.roles,
            tenant=grant.subject.tenant,
            email=user.email,
            scope=scope,
            lifetime_seconds=config.access_token_seconds,
            now=now,
            client_id=grant.client_id,
            application_id=grant.application_id,
        ),
        "token_type": "Bearer",
        "expires_in": config.access_token_seconds,
        "scope": scope,
    }
    if "openid" in grant.scopes:
        response["id_token"] = sign(key, _id_token_claims(config, grant, now), typ="JWT")
    if with_refresh:
        refresh = new_secret()
        session.add(
            RefreshToken(
                id=new_id("rt"),
                token_digest=digest(refresh),
                family_id=refresh_family or new_id("rtf"),
                code_id=code_id,
                client_id=grant.client_id,
                user_id=user.id,
                application_id=grant.application_id,
                scope=scope,
                resource=grant.resource,
                auth_time=grant.auth_time or utcnow(),
                expires_at=utcnow() + timedelta(seconds=config.refresh_token_seconds),
            )
        )
        await session.flush()
        response["refresh_token"] = refresh
    return response


def _id_token_claims(config: IdentityConfig, grant: Grant, now: int) -> dict[str, Any]:
    user = grant.subject.user
    claims: dict[str, Any] = {
        "iss": config.issuer,
        "sub": user.id,
        "aud": grant.client_id,
        "azp": grant.client_id,
        "iat": now,
        "exp": now + config.id_token_seconds,
        "roles": list(grant.subject.roles),
    }
    if grant.subject.tenant is not None:
        claims["tenant"] = grant.subject.tenant
    if grant.auth_time is not None:
        claims["auth_time"] = int(grant.auth_time.timestamp())
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    claims.update(profile_claims(user, grant.scopes))
    return claims


def profile_claims(user: User, scopes: list[str]) -> dict[str, Any]:
    """The standard claims the `profile` and `email` scopes release (OIDC Core §5.4)."""
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims["name"] = user.name
    if "email" in scopes and user.email:
        claims["email"] = user.email
        # Accounts are created by administrators with the address they were given.
        claims["email_verified"] = False
    return claims
