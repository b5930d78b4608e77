"""Bearer JWT verification against an issuer's signing keys.

The keys come from a `KeySource`: the platform's own key set (embedded identity), or an
external issuer's JWKS found through OIDC discovery, cached, and re-fetched when a token
names a key id we have not seen (the issuer rotated its keys).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from stoa.kit.errors import Unauthenticated

ALGORITHMS = ["ES256", "RS256"]


class KeySource(Protocol):
    async def key_set(self, *, refresh: bool = False) -> KeySet:
        """The issuer's current public keys; `refresh` asks for a re-fetch if allowed."""
        ...


class StaticKeySource:
    """A key set known in-process (the platform's own signing keys)."""

    def __init__(self, loader: Callable[[], KeySet]) -> None:
        self._loader = loader
        self._keys = loader()

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        if refresh:
            self._keys = self._loader()
        return self._keys


class RemoteJwksSource:
    """An external issuer's JWKS, found through `/.well-known/openid-configuration`."""

    def __init__(
        self,
        issuer: str,
        client: httpx.AsyncClient,
        *,
        cache_seconds: int = 300,
        min_refresh_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._client = client
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            age = self._clock() - self._fetched_at
            stale = self._keys is None or age > self._cache_seconds
            # An unknown kid may be forged: re-fetch at most every few seconds so such
            # tokens cannot make us hammer the issuer.
            if stale or (refresh and age > self._min_refresh_seconds):
                self._keys = await self._fetch()
                self._fetched_at = self._clock()
            assert self._keys is not None
            return self._keys

    async def _fetch(self) -> KeySet:
        try:
            discovery = await self._client.get(f"{self._issuer}/.well-known/openid-configuration")
            discovery.raise_for_status()
            jwks_uri = discovery.json()["jwks_uri"]
            response = await self._client.get(jwks_uri)
            response.raise_for_status()
            return KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
            if self._keys is not None:
                return self._keys  # keep serving with the keys we had
            raise Unauthenticated(
                f"the token issuer {self._issuer} cannot be reached to fetch its keys"
            ) from exc


class TokenVerifier:
    """Checks signature, issuer, audience, expiry and not-before of bearer JWTs."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: KeySource,
        leeway_seconds: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._audience = audience
        self._keys = keys
        self._registry = jwt.JWTClaimsRegistry(
            now=lambda: int(clock()),
            leeway=leeway_seconds,
            exp={"essential": True},
            sub={"essential": True},
        )

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or `Unauthenticated` saying what is wrong with it."""
        keys = await self._keys.key_set()
        try:
            claims = self._decode(token, keys)
        except InvalidKeyIdError:
            try:
                claims = self._decode(token, await self._keys.key_set(refresh=True))
            except InvalidKeyIdError as exc:
                raise Unauthenticated("token is signed with an unknown signing key") from exc
        if str(claims.get("iss", "")).rstrip("/") != self._issuer:
            raise Unauthenticated(f"token issuer must be {self._issuer}")
        audiences = claims.get("aud")
        audience_list = audiences if isinstance(audiences, list) else [audiences]
        if self._audience not in audience_list:
            raise Unauthenticated(f"token audience must include {self._audience}")
        try:
            self._registry.validate(claims)
        except JoseError as exc:
            raise Unauthenticated(f"token rejected: {exc.description or exc.error}") from exc
        return claims

    @staticmethod
    def _decode(token: str, keys: KeySet) -> dict[str, Any]:
        """Decoded claims; lets `InvalidKeyIdError` through so the caller can refresh keys."""
        try:
            return dict(jwt.decode(token, keys, algorithms=ALGORITHMS).claims)
        except InvalidKeyIdError:
            raise
        except JoseError as exc:
            raise Unauthenticated(f"token rejected: {exc.description or exc.error}") from exc
        except ValueError as exc:
            raise Unauthenticated("token is malformed") from exc
