"""Each refusal of the authorization server, with the error the RFCs define."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, update

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.models import AuthorizationCode, RefreshToken, RevokedAccessToken
from stoa.controlplane.models.base import utcnow
from stoa.identity.housekeeping import purge_expired
from stoa.kit.ids import new_id
from support.oauth import (
    REDIRECT_URI,
    Browser,
    exchange,
    execute_statement,
    obtain_code,
    person,
    pkce_pair,
    register_client,
    service_account,
    token_request,
)
from support.world import World

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def browser(world: World) -> Iterator[Browser]:
    opened = Browser(world.base_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def signed_in(world: World, browser: Browser) -> tuple[str, Browser]:
    """A registered client and a browser with a signed-in user; returns the client id."""
    person(world, "dev@acme.test", PASSWORD)
    client = register_client(world.base_url)
    return client["client_id"], browser


def _code(browser: Browser, client_id: str, **extra: str):  # type: ignore[no-untyped-def]
    return obtain_code(browser, client_id, "dev@acme.test", PASSWORD, **extra)


def _error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "error_description"}
    return str(body["error"])


def test_wrong_code_verifier_is_refused(signed_in: tuple[str, Browser], world: World) -> None:
    client_id, browser = signed_in
    result = _code(browser, client_id)
    result.verifier = pkce_pair()[0]
    assert _error(exchange(world.base_url, client_id, result)) == "invalid_grant"


def test_reused_code_is_refused_and_revokes_what_the_first_use_gave(
    signed_in: tuple[str, Browser], world: World
) -> None:
    client_id, browser = signed_in
    result = _code(browser, client_id)
    first = exchange(world.base_url, client_id, result).json()
    assert _error(exchange(world.base_url, client_id, result)) == "invalid_grant"
    refresh = token_request(
        world.base_url,
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
        client_id=client_id,
    )
    assert _error(refresh) == "invalid_grant"


def test_reused_refresh_token_revokes_the_whole_family(
    signed_in: tuple[str, Browser], world: World
) -> None:
    client_id, browser = signed_in
    tokens = exchange(world.base_url, client_id, _code(browser, client_id)).json()

    def refresh(token: str) -> httpx.Response:
        return token_request(
            world.base_url, grant_type="refresh_token", refresh_token=token, client_id=client_id
        )

    second = refresh(tokens["refresh_token"]).json()["refresh_token"]
    # The first token again: a thief or a replay. Both the old and the new one die.
    stolen = refresh(tokens["refresh_token"])
    assert _error(stolen) == "invalid_grant"
    assert "revoked" in stolen.json()["error_description"]
    assert _error(refresh(second)) == "invalid_grant"


def test_mismatched_redirect_uri_is_shown_to_the_user_not_redirected(
    signed_in: tuple[str, Browser],
) -> None:
    client_id, browser = signed_in
    _, challenge = pkce_pair()
    page = browser.authorize(
        response_type="code",
        client_id=client_id,
        redirect_uri="https://attacker.example/callback",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "redirect_uri mismatch" in page.text


def test_redirect_uri_at_the_token_endpoint_must_match(
    signed_in: tuple[str, Browser], world: World
) -> None:
    client_id, browser = signed_in
    result = _code(browser, client_id)
    response = exchange(
        world.base_url, client_id, result, redirect_uri="http://127.0.0.1:53682/other"
    )
    assert _error(response) == "invalid_grant"


def test_loopback_redirect_uri_may_use_another_port(
    signed_in: tuple[str, Browser], world: World
) -> None:
    client_id, browser = signed_in
    other_port = "http://127.0.0.1:61000/callback"
    result = _code(browser, client_id, redirect_uri=other_port)
    assert result.location.startswith(other_port)
    response = exchange(world.base_url, client_id, result, redirect_uri=other_port)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "expected"), [("plain", "code_challenge_method"), (None, "code_challenge_method")]
)
def test_plain_or_missing_pkce_method_is_refused(
    signed_in: tuple[str, Browser], method: str | None, expected: str
) -> None:
    client_id, browser = signed_in
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "xyz",
        "code_challenge": "x" * 43,
    }
    if method is not None:
        params["code_challenge_method"] = method
    answer = browser.http.get(f"/oauth/authorize?{urlencode(params)}")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI)
    assert "error=invalid_request" in location
    assert "state=xyz" in location
    assert expected in location


def test_missing_code_challenge_is_refused(signed_in: tuple[str, Browser]) -> None:
    client_id, browser = signed_in
    answer = browser.authorize(response_type="code", client_id=client_id, redirect_uri=REDIRECT_URI)
    assert answer.status_code == 302
    assert "error=invalid_request" in answer.headers["location"]
    assert "iss=" in answer.headers["location"]


def test_expired_code_is_refused(signed_in: tuple[str, Browser], world: World) -> None:
    client_id, browser = signed_in
    result = _code(browser, client_id)
    execute_statement(
        world, update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert _error(exchange(world.base_url, client_id, result)) == "invalid_grant"


def test_token_for_another_resource_is_refused_by_the_control_plane(
    signed_in: tuple[str, Browser], world: World
) -> None:
    client_id, browser = signed_in
    resource = f"{world.settings.gateway_public_url}/mcp"
    result = _code(browser, client_id, resource=resource)
    tokens = exchange(world.base_url, client_id, result, resource=resource).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    refused = httpx.get(f"{world.base_url}/v1/tenants", headers=bearer)
    assert refused.status_code == 401
    assert "audience" in refused.json()["detail"]


def test_resource_the_server_does_not_serve_is_refused(signed_in: tuple[str, Browser]) -> None:
    client_id, browser = signed_in
    _, challenge = pkce_pair()
    answer = browser.authorize(
        response_type="code",
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        code_challenge=challenge,
        code_challenge_method="S256",
        resource="https://elsewhere.example/api",
    )
    assert answer.status_code == 302
    assert "error=invalid_target" in answer.headers["location"]


def test_resource_at_the_token_endpoint_must_be_the_authorized_one(
    signed_in: tuple[str, Browser], world: World
) -> None:
    client_id, browser = signed_in
    result = _code(browser, client_id)
    response = exchange(
        world.base_url, client_id, result, resource=f"{world.settings.gateway_public_url}/mcp"
    )
    assert _error(response) == "invalid_target"


def test_expired_access_token_is_refused_everywhere(world: World) -> None:
    dev = person(world, "dev@acme.test", PASSWORD)
    expired = world.token(
        dev.user_id, tenant="acme", roles=[], now=time.time() - 3600, lifetime_seconds=60
    )
    info = httpx.get(
        f"{world.base_url}/oauth/userinfo", headers={"Authorization": f"Bearer {expired}"}
    )
    assert _error(info, 401) == "invalid_token"
    assert info.headers["www-authenticate"].startswith("Bearer")
    client_id, secret = service_account(world, "gateway")
    introspected = httpx.post(
        f"{world.base_url}/oauth/introspect", data={"token": expired}, auth=(client_id, secret)
    )
    assert introspected.json() == {"active": False}
    assert (
        httpx.get(
            f"{world.base_url}/v1/tenants", headers={"Authorization": f"Bearer {expired}"}
        ).status_code
        == 401
    )


def test_unknown_client_is_shown_an_error_page(browser: Browser, world: World) -> None:
    answer = browser.authorize(response_type="code", client_id="oc_unknown")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "unknown client_id" in answer.text


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password", "client_id": "x"}, "invalid_client"),
        ({"grant_type": "authorization_code"}, "invalid_client"),
        ({"grant_type": "implicit", "client_id": "REGISTERED"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "client_id": "REGISTERED"}, "invalid_request"),
        (
            {
                "grant_type": "authorization_code",
                "client_id": "REGISTERED",
                "code": "nope",
                "code_verifier": "v" * 43,
            },
            "invalid_grant",
        ),
        ({"grant_type": "client_credentials", "client_id": "REGISTERED"}, "unauthorized_client"),
    ],
)
def test_malformed_token_requests_get_oauth_errors(
    world: World, data: dict[str, str], error: str
) -> None:
    client = register_client(world.base_url)
    filled = {k: client["client_id"] if v == "REGISTERED" else v for k, v in data.items()}
    response = httpx.post(f"{world.base_url}/oauth/token", data=filled)
    status = 401 if error == "invalid_client" else 400
    assert _error(response, status) == error


def test_token_endpoint_refuses_json_and_repeated_parameters(world: World) -> None:
    as_json = httpx.post(f"{world.base_url}/oauth/token", json={"grant_type": "x"})
    assert _error(as_json) == "invalid_request"
    repeated = httpx.post(
        f"{world.base_url}/oauth/token",
        content="grant_type=a&grant_type=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert _error(repeated) == "invalid_request"
    garbage = httpx.post(
        f"{world.base_url}/oauth/token",
        content=b"\xff\xfe\x00",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert _error(garbage) == "invalid_request"


def test_introspection_needs_a_confidential_client(world: World) -> None:
    client = register_client(world.base_url)
    response = httpx.post(
        f"{world.base_url}/oauth/introspect",
        data={"token": "anything", "client_id": client["client_id"]},
    )
    assert _error(response, 401) == "invalid_client"


def test_revoking_an_unknown_token_succeeds_quietly(world: World) -> None:
    client = register_client(world.base_url)
    response = httpx.post(
        f"{world.base_url}/oauth/revoke",
        data={"token": "not-a-token", "client_id": client["client_id"]},
    )
    assert response.status_code == 200
    bad_hint = httpx.post(
        f"{world.base_url}/oauth/revoke",
        data={"token": "x", "client_id": client["client_id"], "token_type_hint": "id_token"},
    )
    assert _error(bad_hint) == "unsupported_token_type"


def test_userinfo_needs_the_openid_scope(world: World) -> None:
    client_id, secret = service_account(world, "ci")
    token = httpx.post(
        f"{world.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    ).json()["access_token"]
    response = httpx.get(
        f"{world.base_url}/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}
    )
    assert _error(response, 403) == "insufficient_scope"


def test_nul_characters_are_refused_not_stored(world: World, browser: Browser) -> None:
    page = browser.http.get("/oauth/authorize?client_id=%00&response_type=code")
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    token = httpx.post(
        f"{world.base_url}/oauth/token",
        data={"grant_type": "refresh_token", "client_id": "oc_\x00", "refresh_token": "x"},
    )
    assert _error(token) == "invalid_request"
    registration = httpx.post(
        f"{world.base_url}/oauth/register",
        json={"redirect_uris": ["https://app.example/cb"], "client_name": "a\x00b"},
    )
    assert _error(registration) == "invalid_client_metadata"
    login = browser.http.post(
        "/oauth/authorize/login", data={"email": "a\x00@b.c", "password": "x", "csrf": "x"}
    )
    assert login.status_code == 400


def test_housekeeping_deletes_only_what_can_no_longer_be_used(world: World) -> None:
    dev = person(world, "dev@acme.test", PASSWORD)
    now = utcnow()

    def refresh_row(expires_in: timedelta) -> RefreshToken:
        return RefreshToken(
            id=new_id("rt"),
            token_digest=new_id("d"),
            family_id="f",
            client_id="c",
            user_id=dev.user_id,
            scope="",
            auth_time=now,
            expires_at=now + expires_in,
        )

    world._run(
        refresh_row(timedelta(seconds=-1)),
        refresh_row(timedelta(days=1)),
        RevokedAccessToken(jti="old", expires_at=now - timedelta(seconds=1)),
        RevokedAccessToken(jti="live", expires_at=now + timedelta(minutes=5)),
    )

    async def purge_and_count() -> tuple[int, list[str]]:
        engine = create_engine(world.settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await purge_expired(session)
                tokens = len((await session.scalars(select(RefreshToken))).all())
                jtis = list(await session.scalars(select(RevokedAccessToken.jti)))
                return tokens, jtis
        finally:
            await engine.dispose()

    assert asyncio.run(purge_and_count()) == (1, ["live"])
