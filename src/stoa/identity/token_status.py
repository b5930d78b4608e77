"""What a token is worth now: introspection (RFC 7662), revocation (RFC 7009), UserInfo
(OIDC Core §5.3).

Access tokens are JWTs checked against the published keys and the issuer; a revoked one
is remembered by `jti` until it expires. Refresh tokens are looked up by digest; revoking
one revokes its family.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import RefreshToken, RevokedAccessToken, User
from stoa.controlplane.models.base import utcnow
from stoa.identity.clients import Client
from stoa.identity.config import IdentityConfig
from stoa.identity.grants import revoke_family
from stoa.identity.issuance import digest, profile_claims, subject_of
from stoa.identity.key_source import DatabaseKeySource
from stoa.identity.oauth_errors import OAuthError, invalid_token
from stoa.kit.token_verify import ALGORITHMS

INACTIVE: dict[str, Any] = {"active": False}
_LEEWAY = 30


async def _decode(keys: DatabaseKeySource, token: str) -> dict[str, Any] | None:
    for refresh in (False, True):
        try:
            return dict(
                jwt.decode(token, await keys.key_set(refresh=refresh), algorithms=ALGORITHMS).claims
            )
        except JoseError:
            continue
        except ValueError:
            return None
    return None


async def access_token_claims(
    session: AsyncSession, keys: DatabaseKeySource, config: IdentityConfig, token: str
) -> dict[str, Any] | None:
    """The claims of an access token this server issued and that is valid now: signature,
    issuer, expiry, not revoked, its user still active. None otherwise."""
    if token.count(".") != 2 or len(token) > 8192:
        return None
    claims = await _decode(keys, token)
    if claims is None or claims.get("iss") != config.issuer:
        return None
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int | float) or exp + _LEEWAY < now:
        return None
    if isinstance(nbf, int | float) and nbf - _LEEWAY > now:
        return None
    jti = claims.get("jti")
    if isinstance(jti, str) and await session.get(RevokedAccessToken, jti) is not None:
        return None
    user = await session.get(User, str(claims.get("sub", "")))
    if user is None or user.status != "active":
        return None
    return claims


async def _live_refresh_token(session: AsyncSession, token: str) -> RefreshToken | None:
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_digest == digest(token))
    )
    if row is None or row.revoked_at is not None or row.used_at is not None:
        return None
    return row if row.expires_at > utcnow() else None


async def introspect(
    session: AsyncSession,
    keys: DatabaseKeySource,
    config: IdentityConfig,
    token: str,
    hint: str | None,
) -> dict[str, Any]:
    """RFC 7662 §2.2: `{"active": false}` for anything not currently valid."""
    order = (
        ("refresh_token", "access_token")
        if hint == "refresh_token"
        else (
            "access_token",
            "refresh_token",
        )
    )
    for kind in order:
        if kind == "access_token":
            claims = await access_token_claims(session, keys, config, token)
            if claims is not None:
                return {"active": True, "token_type": "Bearer", **claims}
        else:
            row = await _live_refresh_token(session, token)
            if row is not None:
                user = await session.get(User, row.user_id)
                if user is None or user.status != "active":
                    return INACTIVE
                subject = await subject_of(session, user)
                answer: dict[str, Any] = {
                    "active": True,
                    "token_type": "refresh_token",
                    "client_id": row.client_id,
                    "sub": row.user_id,
                    "scope": row.scope,
                    "exp": int(row.expires_at.timestamp()),
                    "iat": int(row.created_at.timestamp()),
                    "iss": config.issuer,
                    "roles": list(subject.roles),
                }
                if user.email:
                    answer["username"] = user.email
                if subject.tenant:
                    answer["tenant"] = subject.tenant
                if row.application_id:
                    answer["stoa_app"] = row.application_id
                return answer
    return INACTIVE


async def revoke(
    session: AsyncSession,
    keys: DatabaseKeySource,
    config: IdentityConfig,
    client: Client,
    token: str,
    hint: str | None,
) -> None:
    """RFC 7009 §2.1: revoke `token` if it was issued to `client`; anything else (unknown,
    expired, another client's token) is answered the same way, with success."""
    if hint not in (None, "access_token", "refresh_token"):
        raise OAuthError(
            "unsupported_token_type", "token_type_hint must be access_token or refresh_token"
        )
    row = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_digest == digest(token))
    )
    if row is not None:
        if row.client_id == client.client_id:
            await revoke_family(session, row.family_id)
        return
    claims = await access_token_claims(session, keys, config, token)
    if claims is None or claims.get("client_id") != client.client_id:
        return
    jti = claims.get("jti")
    if isinstance(jti, str):
        session.add(
            RevokedAccessToken(jti=jti, expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC))
        )
        await session.flush()


async def userinfo(
    session: AsyncSession, keys: DatabaseKeySource, config: IdentityConfig, token: str
) -> dict[str, Any]:
    """The OIDC UserInfo claims for a valid access token granted `openid`."""
    claims = await access_token_claims(session, keys, config, token)
    if claims is None:
        raise invalid_token("the access token is invalid, expired or revoked")
    scopes = str(claims.get("scope", "")).split()
    if "openid" not in scopes:
        raise OAuthError(
            "insufficient_scope",
            "UserInfo needs a token granted the openid scope",
            status=403,
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="openid"'},
        )
    user = await session.get(User, str(claims["sub"]))
    assert user is not None  # access_token_claims checked it
    subject = await subject_of(session, user)
    info: dict[str, Any] = {"sub": user.id, "roles": list(subject.roles)}
    if subject.tenant is not None:
        info["tenant"] = subject.tenant
    info.update(profile_claims(user, scopes))
    return info
