"""Bearer JWTs from the configured issuer, checked with `stoa.kit.token_verify`.

The audience is this gateway's resource URL (`STOA_GATEWAY_PUBLIC_URL`); on a per-API
MCP endpoint a token whose audience is that endpoint's own resource URL is accepted too
(RFC 8707 resource indicators name the URL the client connects to).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from stoa.gateway.auth.caller import Caller
from stoa.gateway.snapshot.compiled import CompiledSnapshot, Grant
from stoa.kit.errors import Unauthenticated
from stoa.kit.token_verify import KeySource, RemoteJwksSource, TokenVerifier

APPLICATION_CLAIM = "stoa_app"


def token_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from `scope` (space-separated, RFC 9068) or `scp` (a list)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(str(item) for item in scp)
    return frozenset()


class BearerAuthenticator:
    """Verifies tokens and turns their claims into a `Caller`."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: KeySource | None = None,
        jwks_cache_seconds: int = 300,
        leeway_seconds: int = 30,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._client: httpx.AsyncClient | None = None
        if keys is None:
            # JWKS fetches are rare (cached), so httpx is fine here: it is off the hot path.
            self._client = httpx.AsyncClient(timeout=10.0)
            keys = RemoteJwksSource(issuer, self._client, cache_seconds=jwks_cache_seconds)
        self._keys = keys
        self._verifiers: dict[str, TokenVerifier] = {}

    def _verifier(self, audience: str) -> TokenVerifier:
        verifier = self._verifiers.get(audience)
        if verifier is None:
            verifier = self._verifiers[audience] = TokenVerifier(
                issuer=self._issuer, audience=audience, keys=self._keys, leeway_seconds=self._leeway
            )
        return verifier

    async def claims(self, token: str, resource: str | None = None) -> dict[str, Any]:
        """Verified claims, or `Unauthenticated`. `resource`: an extra accepted audience."""
        try:
            return await self._verifier(self._audience).verify(token)
        except Unauthenticated as exc:
            if resource is None or not exc.detail.startswith("token audience"):
                raise
        return await self._verifier(resource).verify(token)

    async def caller(
        self, snapshot: CompiledSnapshot, token: str, resource: str | None = None
    ) -> Caller:
        claims = await self.claims(token, resource)
        subject = str(claims["sub"])
        application = claims.get(APPLICATION_CLAIM)
        grants: Mapping[str, Grant]
        if isinstance(application, str) and application:
            grants = snapshot.grants_by_application.get(application, {})
        else:
            # Without an application claim (a service account's client credentials), the
            # subject's own applications apply.
            grants = snapshot.grants_for_owner(subject)
        return Caller(subject=subject, grants=grants, scopes=token_scopes(claims))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
