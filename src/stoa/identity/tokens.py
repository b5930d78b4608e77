"""Access and ID tokens, signed JWTs (ES256).

Claims that STOA's resource servers (control plane, gateway) read from access tokens:

- `sub`: the user's (or service account's) id;
- `aud`: the resource the token is for (the RFC 8707 `resource`, else the control plane);
- `roles`: list of STOA roles (`cpi-admin`, `tenant-admin`, `devops`, `viewer`);
- `tenant`: the user's tenant slug (absent for platform users);
- `scope`: the granted scopes, space-separated;
- `client_id`: the OAuth client the token was issued to (RFC 9068);
- `stoa_app`: the id of the application the user chose on the consent page. The agent
  acts for that application, so the gateway applies its subscriptions and plans;
- `email`: the user's email, when known.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from stoa.identity.signing_keys import ALGORITHM
from stoa.kit.ids import new_id

APPLICATION_CLAIM = "stoa_app"


def sign(key: ECKey, claims: dict[str, Any], *, typ: str) -> str:
    """`claims` as a compact JWS signed with `key`."""
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": typ}, claims, key)


def mint_access_token(
    key: ECKey,
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
    client_id: str | None = None,
    application_id: str | None = None,
) -> str:
    """A signed access token (RFC 9068 `at+jwt`) carrying the STOA claims listed above."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
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
    if client_id is not None:
        claims["client_id"] = client_id
    if application_id is not None:
        claims[APPLICATION_CLAIM] = application_id
    return sign(key, claims, typ="at+jwt")
