"""Bearer token checks against the platform's keys and against an external issuer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from stoa.kit.errors import Unauthenticated
from stoa.kit.token_verify import RemoteJwksSource, StaticKeySource, TokenVerifier

ISSUER = "https://id.example"
AUDIENCE = "https://cp.example"


def _key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256"}, private=True)


def _token(key: ECKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "usr_1", "iat": now, "exp": now + 60}
    body.update(claims)
    return jwt.encode({"alg": "ES256", "kid": key.kid}, body, key)


def _public(*keys: ECKey) -> KeySet:
    return KeySet.import_key_set(KeySet(list(keys)).as_dict(private=False))


def _verifier(*keys: ECKey) -> TokenVerifier:
    public = _public(*keys)
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=StaticKeySource(lambda: public))


@pytest.mark.anyio
async def test_valid_token_yields_its_claims() -> None:
    key = _key("k1")
    claims = await _verifier(key).verify(_token(key, roles=["viewer"]))
    assert claims["sub"] == "usr_1"
    assert claims["roles"] == ["viewer"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"aud": "https://other.example"}, "audience"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "rejected"),
    ],
)
async def test_token_with_wrong_claims_is_refused(claims: dict[str, Any], message: str) -> None:
    key = _key("k1")
    with pytest.raises(Unauthenticated, match=message):
        await _verifier(key).verify(_token(key, **claims))


@pytest.mark.anyio
async def test_audience_may_be_one_of_several() -> None:
    key = _key("k1")
    claims = await _verifier(key).verify(_token(key, aud=["x", AUDIENCE]))
    assert claims["sub"] == "usr_1"


@pytest.mark.anyio
async def test_token_signed_by_an_unknown_key_or_tampered_is_refused() -> None:
    trusted, stranger = _key("k1"), _key("k2")
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        await _verifier(trusted).verify(_token(stranger))
    forged = _key("k1")  # same kid, different key material
    with pytest.raises(Unauthenticated):
        await _verifier(trusted).verify(_token(forged))
    with pytest.raises(Unauthenticated):
        await _verifier(trusted).verify("not.a.jwt")


class _Issuer:
    """An OIDC issuer's discovery and JWKS documents, served through a mock transport."""

    def __init__(self) -> None:
        self.keys = [_key("old")]
        self.jwks_fetches = 0
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("issuer down")
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if request.url.path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(200, json=KeySet(self.keys).as_dict(private=False))
        return httpx.Response(404)


@pytest.mark.anyio
async def test_external_issuer_keys_are_cached_and_refreshed_on_rotation() -> None:
    issuer = _Issuer()
    clock = [0.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler)) as client:
        source = RemoteJwksSource(ISSUER, client, min_refresh_seconds=10, clock=lambda: clock[0])
        verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=source)
        await verifier.verify(_token(issuer.keys[0]))
        await verifier.verify(_token(issuer.keys[0]))
        assert issuer.jwks_fetches == 1

        issuer.keys.append(_key("new"))
        clock[0] = 11.0
        await verifier.verify(_token(issuer.keys[1]))
        assert issuer.jwks_fetches == 2

        # A burst of tokens with made-up kids does not hammer the issuer.
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                await verifier.verify(_token(_key("forged")))
        assert issuer.jwks_fetches == 2


@pytest.mark.anyio
async def test_known_keys_keep_working_while_the_issuer_is_down(tmp_path: Path) -> None:
    issuer = _Issuer()
    clock = [0.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler)) as client:
        source = RemoteJwksSource(ISSUER, client, cache_seconds=60, clock=lambda: clock[0])
        verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=source)
        await verifier.verify(_token(issuer.keys[0]))
        issuer.down = True
        clock[0] = 120.0
        assert (await verifier.verify(_token(issuer.keys[0])))["sub"] == "usr_1"


@pytest.mark.anyio
async def test_unreachable_issuer_without_cached_keys_is_unauthenticated() -> None:
    issuer = _Issuer()
    issuer.down = True
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handler)) as client:
        verifier = TokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, keys=RemoteJwksSource(ISSUER, client)
        )
        with pytest.raises(Unauthenticated, match="cannot be reached"):
            await verifier.verify(_token(_key("k")))


@pytest.mark.anyio
async def test_discovery_naming_another_issuer_is_not_trusted() -> None:
    issuer = _Issuer()

    def impostor(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(
                200, json={"issuer": "https://evil.example", "jwks_uri": f"{ISSUER}/jwks"}
            )
        return issuer.handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(impostor)) as client:
        verifier = TokenVerifier(
            issuer=ISSUER, audience=AUDIENCE, keys=RemoteJwksSource(ISSUER, client)
        )
        with pytest.raises(Unauthenticated, match="cannot be reached"):
            await verifier.verify(_token(issuer.keys[0]))
    assert issuer.jwks_fetches == 0


@pytest.mark.anyio
async def test_a_down_issuer_is_asked_again_only_after_a_pause() -> None:
    issuer = _Issuer()
    issuer.down = True
    calls = [0]
    clock = [0.0]

    def counting(request: httpx.Request) -> httpx.Response:
        calls[0] += 1
        return issuer.handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(counting)) as client:
        source = RemoteJwksSource(ISSUER, client, retry_seconds=2, clock=lambda: clock[0])
        verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=source)
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                await verifier.verify(_token(issuer.keys[0]))
        assert calls[0] == 1
        issuer.down = False
        clock[0] = 3.0
        assert (await verifier.verify(_token(issuer.keys[0])))["sub"] == "usr_1"
