"""Bearer JWT verification against an issuer's signing keys.

The keys come from a `KeySource`: the platform's own key set (embedded identity), or an
external issuer's JWKS found through OIDC discovery, cached, and re-fetched when a token
names a key id we have not seen (the issuer rotated its keys).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from stoa.kit.errors import Unauthenticated

ALGORITHMS = ["ES256", "RS256"]

_log = logging.getLogger(__name__)


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
    """An external issuer's JWKS, found through `/.well-known/openid-configuration`.

    The discovery document must name the configured issuer (OpenID Connect Discovery
    section 4.3), so a misconfigured URL cannot make us trust another issuer's keys. Keys
    are cached for `cache_seconds`; a token naming an unknown kid triggers a re-fetch at
    most every `min_refresh_seconds`. While the issuer is unreachable the cached keys keep
    working; with no keys at all, attempts are spaced `retry_seconds` apart and callers get
    `Unauthenticated` meanwhile.
    """

    def __init__(
        self,
        issuer: str,
        client: httpx.AsyncClient,
        *,
        cache_seconds: int = 300,
        min_refresh_seconds: float = 10.0,
        retry_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._client = client
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            now = self._clock()
            if self._keys is None:
                if self._failed_at is not None and now - self._failed_at < self._retry_seconds:
                    raise self._unreachable()
                self._keys = await self._fetch()
                self._fetched_at = self._clock()
                return self._keys
            age = now - self._fetched_at
            # An unknown kid may be forged: re-fetch at most every few seconds so such
            # tokens cannot make us hammer the issuer.
            if age > self._cache_seconds or (refresh and age > self._min_refresh_seconds):
                self._keys = await self._fetch()
                self._fetched_at = self._clock()
            return self._keys

    def _unreachable(self) -> Unauthenticated:
        return Unauthenticated(
            f"the token issuer {self._issuer} cannot be reached to fetch its keys"
        )

    async def _fetch(self) -> KeySet:
        try:
            discovery = await self._client.get(f"{self._issuer}/.well-known/openid-configuration")
            discovery.raise_for_status()
            document = discovery.json()
            if str(document["issuer"]).rstrip("/") != self._issuer:
                raise ValueError("the discovery document names another issuer")
            jwks_uri = document["jwks_uri"]
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise ValueError("the discovery document has no usable jwks_uri")
            response = await self._client.get(jwks_uri)
            response.raise_for_status()
            keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError, JoseError) as exc:
            _log.warning("fetching the keys of issuer %s failed: %r", self._issuer, exc)
            if self._keys is not None:
                return self._keys  # keep serving with the keys we had
            self._failed_at = self._clock()
            raise self._unreachable() from exc
        self._failed_at = None
        return keys


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
