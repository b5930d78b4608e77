"""Access tokens signed with the platform's keys."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from joserfc import jwt

from stoa.identity.signing_keys import current_signing_key, load_signing_keys
from stoa.kit.ids import new_id


def mint_access_token(
    data_dir: Path,
    *,
    issuer: str,
    audience: str,
    subject: str,
    roles: Sequence[str],
    tenant: str | None,
    email: str | None = None,
    scope: str = "stoa:read stoa:write",
    lifetime_seconds: int = 900,
    now: float | None = None,
) -> str:
    """A signed JWT carrying the STOA claims that the control plane and gateway read:
    `roles` (list), `tenant` (slug or absent), `scope`, `email`."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_seconds,
        "jti": new_id("jti"),
        "roles": list(roles),
        "scope": scope,
    }
    if tenant is not None:
        claims["tenant"] = tenant
    if email is not None:
        claims["email"] = email
    key = current_signing_key(load_signing_keys(data_dir))
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, claims, key)
