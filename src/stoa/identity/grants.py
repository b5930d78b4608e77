"""The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6 with OAuth 2.1 rules).

- authorization_code: one use; PKCE S256 verifier; same client and redirect URI as the
  authorization request; a `resource` must be the one authorized. A second use of a code
  revokes the refresh tokens the first use started.
- refresh_token: rotated on every use; presenting a used token again revokes its whole
  family (it was stolen, or the client is confused: either way nobody keeps access).
- client_credentials: service accounts only (client id and secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import AuthorizationCode, RefreshToken, User
from stoa.controlplane.models.base import utcnow
from stoa.identity.clients import Client, require_grant
from stoa.identity.config import (
    CLIENT_CREDENTIALS,
    DEFAULT_SERVICE_SCOPE,
    REFRESH_TOKEN,
    SUPPORTED_SCOPES,
    IdentityConfig,
)
from stoa.identity.issuance import Grant, digest, granted_scopes, issue, subject_of
from stoa.identity.oauth_errors import OAuthError, invalid_grant, invalid_request
from stoa.identity.pkce import verifier_matches
from stoa.identity.resources import audience_for, resource_problem
from stoa.kit.crypto import SecretBox
from stoa.kit.settings import Settings

Form = Mapping[str, str]


def _invalid_target(description: str) -> OAuthError:
    return OAuthError("invalid_target", description)


async def _active_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None or user.status != "active":
        raise invalid_grant("the user of this grant no longer exists or is disabled")
    return user


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def authorization_code(
    session: AsyncSession,
    box: SecretBox,
    config: IdentityConfig,
    settings: Settings,
    client: Client,
    form: Form,
) -> dict[str, Any]:
    code, verifier = form.get("code"), form.get("code_verifier")
    if not code:
        raise invalid_request("code is required")
    if not verifier:
        raise invalid_request("code_verifier is required (PKCE)")
    row = await session.scalar(
        select(AuthorizationCode).where(AuthorizationCode.code_digest == digest(code))
    )
    now = utcnow()
    if row is None or row.client_id != client.client_id:
        raise invalid_grant("the authorization code is unknown or was issued to another client")
    if row.used_at is not None:
        # RFC 6749 §4.1.2: a code used twice revokes what it gave.
        for family in await session.scalars(
            select(RefreshToken.family_id).where(RefreshToken.code_id == row.id).distinct()
        ):
            await revoke_family(session, family)
        raise invalid_grant("the authorization code was already used", commit=True)
    if row.expires_at <= now:
        raise invalid_grant("the authorization code has expired")
    if form.get("redirect_uri") != row.redirect_uri:
        raise invalid_grant("redirect_uri must be the one of the authorization request")
    if not verifier_matches(verifier, row.code_challenge):
        raise invalid_grant("code_verifier does not match the code_challenge")
    resource = form.get("resource")
    if resource is not None and resource != row.resource:
        raise _invalid_target("resource must be the one the user authorized")
    # Mark the code used only if nobody else did in the meantime (two racing exchanges).
    marked = await session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(marked, "rowcount", 1) != 1:
        raise invalid_grant("the authorization code was already used")
    user = await _active_user(session, row.user_id)
    subject = await subject_of(session, user)
    scopes = row.scope.split()
    grant = Grant(
        subject=subject,
        client_id=client.client_id,
        scopes=scopes,
        audience=audience_for(row.resource, settings),
        resource=row.resource,
        application_id=row.application_id,
        auth_time=row.auth_time,
        nonce=row.nonce,
    )
    return await issue(
        session,
        box,
        config,
        grant,
        with_refresh=REFRESH_TOKEN in client.grant_types,
        code_id=row.id,
    )


async def refresh_token(
    session: AsyncSession,
    box: SecretBox,
    config: IdentityConfig,
    settings: Settings,
    client: Client,
    form: Form,
) -> dict[str, Any]:
    presented = form.get("refresh_token")
    if not presented:
        raise invalid_request("refresh_token is required")
    require_grant(client, REFRESH_TOKEN)
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_digest == digest(presented))
    )
    now = utcnow()
    if row is None or row.client_id != client.client_id:
        raise invalid_grant("the refresh token is unknown or was issued to another client")
    if row.revoked_at is not None:
        raise invalid_grant("the refresh token was revoked")
    if row.used_at is not None:
        await revoke_family(session, row.family_id)
        raise invalid_grant(
            "the refresh token was already used; every token of its family is now revoked",
            commit=True,
        )
    if row.expires_at <= now:
        raise invalid_grant("the refresh token has expired")
    scopes = row.scope.split()
    if form.get("scope"):
        narrower = form["scope"].split()
        if not set(narrower) <= set(scopes):
            raise OAuthError("invalid_scope", "a refresh may only narrow the granted scope")
        scopes = [s for s in scopes if s in narrower]
    resource = form.get("resource")
    if resource is not None and resource != row.resource:
        raise _invalid_target("resource must be the one the user authorized")
    marked = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(marked, "rowcount", 1) != 1:
        await revoke_family(session, row.family_id)
        raise invalid_grant("the refresh token was already used", commit=True)
    user = await _active_user(session, row.user_id)
    subject = await subject_of(session, user)
    grant = Grant(
        subject=subject,
        client_id=client.client_id,
        scopes=granted_scopes(scopes, subject.roles),
        audience=audience_for(row.resource, settings),
        resource=row.resource,
        application_id=row.application_id,
        auth_time=row.auth_time,
    )
    return await issue(session, box, config, grant, with_refresh=True, refresh_family=row.family_id)


async def client_credentials(
    session: AsyncSession,
    box: SecretBox,
    config: IdentityConfig,
    settings: Settings,
    client: Client,
    form: Form,
) -> dict[str, Any]:
    if client.user is None:
        raise OAuthError(
            "unauthorized_client",
            "client_credentials is for service accounts (authenticate with the client secret)",
        )
    require_grant(client, CLIENT_CREDENTIALS)
    asked = (form.get("scope") or DEFAULT_SERVICE_SCOPE).split()
    allowed = [s for s in SUPPORTED_SCOPES if s.startswith("stoa:")]
    unknown = [s for s in asked if s not in allowed]
    if unknown:
        raise OAuthError("invalid_scope", f"service accounts may ask only for {' '.join(allowed)}")
    resource = form.get("resource")
    if resource is not None:
        problem = resource_problem(resource, settings)
        if problem is not None:
            raise _invalid_target(problem)
    subject = await subject_of(session, client.user)
    grant = Grant(
        subject=subject,
        client_id=client.client_id,
        scopes=granted_scopes([s for s in allowed if s in asked], subject.roles),
        audience=audience_for(resource, settings),
        resource=resource,
        application_id=None,
    )
    return await issue(session, box, config, grant)
