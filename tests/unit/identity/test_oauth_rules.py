"""The small rules of the authorization server: PKCE, redirect URIs, resources, scopes."""

from __future__ import annotations

import pytest

from stoa.identity.clients import PUBLIC, Client
from stoa.identity.oauth_errors import OAuthError
from stoa.identity.pkce import challenge_problem, s256, verifier_matches
from stoa.identity.redirect_uris import redirect_uri_matches, registrable_problem
from stoa.identity.resources import resource_problem
from stoa.identity.scopes import requested_scopes
from stoa.kit.settings import Settings

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def test_pkce_s256_matches_the_rfc_7636_example() -> None:
    assert s256(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert verifier_matches(VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not verifier_matches(VERIFIER[:-1] + "x", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not verifier_matches("short", s256("short"))


@pytest.mark.parametrize(
    ("challenge", "method", "refused"),
    [
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256", False),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "plain", True),
        ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None, True),
        (None, "S256", True),
        ("too-short", "S256", True),
    ],
)
def test_only_s256_challenges_are_accepted(
    challenge: str | None, method: str | None, refused: bool
) -> None:
    assert (challenge_problem(challenge, method) is not None) is refused


@pytest.mark.parametrize(
    ("registered", "presented", "matches"),
    [
        ("https://app.example/cb", "https://app.example/cb", True),
        ("https://app.example/cb", "https://app.example/cb/", False),
        ("https://app.example/cb", "https://app.example:8443/cb", False),
        ("http://127.0.0.1:3000/cb", "http://127.0.0.1:49152/cb", True),
        ("http://[::1]:3000/cb", "http://[::1]:5000/cb", True),
        ("http://localhost/cb", "http://localhost:8080/cb", True),
        ("http://127.0.0.1:3000/cb", "http://127.0.0.1:3000/other", False),
        ("http://127.0.0.1:3000/cb", "http://localhost:3000/cb", False),
        ("http://127.0.0.1:3000/cb", "http://127.0.0.1:notaport/cb", False),
    ],
)
def test_redirect_uri_matching_is_exact_except_loopback_ports(
    registered: str, presented: str, matches: bool
) -> None:
    assert redirect_uri_matches(registered, presented) is matches


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("https://app.example/cb", True),
        ("http://127.0.0.1:8080/cb", True),
        ("http://app.example/cb", False),
        ("https://app.example/cb#x", False),
        ("myapp://cb", False),
        ("https://u:p@app.example/cb", False),
        (42, False),
    ],
)
def test_registrable_redirect_uris(uri: object, allowed: bool) -> None:
    assert (registrable_problem(uri) is None) is allowed


def test_resources_are_the_control_plane_or_under_the_gateway() -> None:
    settings = Settings(public_url="https://cp.example", gateway_public_url="https://gw.example")
    assert resource_problem("https://cp.example", settings) is None
    assert resource_problem("https://gw.example/mcp", settings) is None
    assert resource_problem("https://gw.example/mcp/acme/weather", settings) is None
    assert resource_problem("https://gw.example.evil/mcp", settings) is not None
    assert resource_problem("https://elsewhere.example/mcp", settings) is not None
    assert resource_problem("https://gw.example/mcp#frag", settings) is not None
    assert resource_problem("/relative", settings) is not None


def _client(scopes: set[str]) -> Client:
    return Client("oc_1", "c", PUBLIC, ("https://a/cb",), frozenset(), frozenset(scopes))


def test_scopes_are_checked_against_the_server_and_the_client() -> None:
    client = _client({"openid", "stoa:read", "stoa:write"})
    assert requested_scopes("stoa:read openid", client) == ["openid", "stoa:read"]
    assert requested_scopes(None, client) == ["stoa:read", "stoa:write"]
    with pytest.raises(OAuthError, match="unknown scope"):
        requested_scopes("root", client)
    with pytest.raises(OAuthError, match="did not register"):
        requested_scopes("stoa:admin", client)
