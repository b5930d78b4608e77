"""The full browser flow against a real control plane with the identity service mounted:
sign-in form, CSRF, consent, code, token, refresh, revoke, introspect, UserInfo."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.identity.signing_keys import rotate_signing_key
from stoa.kit.crypto import SecretBox
from stoa.kit.platform_secrets import load_platform_secrets
from support.oauth import (
    REDIRECT_URI,
    Browser,
    application,
    exchange,
    hidden_fields,
    obtain_code,
    person,
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


def _claims(world: World, token: str) -> dict[str, object]:
    keys = KeySet.import_key_set(httpx.get(f"{world.base_url}/oauth/jwks").json())
    return dict(jwt.decode(token, keys).claims)


def test_user_signs_in_consents_for_an_application_and_the_token_carries_it(
    world: World, browser: Browser
) -> None:
    dev = person(world, "dev@acme.test", PASSWORD, roles=["devops"])
    application(world, dev, "alpha")
    beta = application(world, dev, "beta")
    client = register_client(world.base_url)

    result = obtain_code(
        browser,
        client["client_id"],
        dev.email,
        PASSWORD,
        application_id=beta,
        scope="openid profile email offline_access stoa:read stoa:admin",
    )
    assert result.params["iss"] == world.settings.public_url
    assert result.location.startswith(REDIRECT_URI + "?")

    response = exchange(world.base_url, client["client_id"], result)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    # stoa:admin is dropped for a user without an admin role; the response says so.
    assert tokens["scope"] == "openid profile email offline_access stoa:read"
    access = _claims(world, tokens["access_token"])
    assert access["stoa_app"] == beta
    assert access["roles"] == ["devops"]
    assert access["tenant"] == "acme"
    assert access["aud"] == world.settings.token_audience
    assert access["client_id"] == client["client_id"]
    identity = _claims(world, tokens["id_token"])
    assert identity["aud"] == client["client_id"]
    assert identity["email"] == dev.email
    assert identity["roles"] == ["devops"]

    # The control plane accepts the token as its own.
    me = httpx.get(
        f"{world.base_url}/v1/users/{dev.user_id}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert me.status_code == 200, me.text

    info = httpx.get(
        f"{world.base_url}/oauth/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert info.status_code == 200
    assert info.json() == {
        "sub": dev.user_id,
        "roles": ["devops"],
        "tenant": "acme",
        "name": "dev",
        "email": dev.email,
        "email_verified": False,
    }

    refreshed = token_request(
        world.base_url,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=client["client_id"],
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]
    assert _claims(world, refreshed.json()["access_token"])["stoa_app"] == beta

    # Introspection, by a confidential client (a service account).
    gateway_id, gateway_secret = service_account(world, "gateway")
    answer = httpx.post(
        f"{world.base_url}/oauth/introspect",
        data={"token": refreshed.json()["access_token"]},
        auth=(gateway_id, gateway_secret),
    ).json()
    assert answer["active"] is True
    assert answer["sub"] == dev.user_id
    assert answer["stoa_app"] == beta
    assert answer["client_id"] == client["client_id"]

    # Revoking the refresh token ends the family; revoking the access token ends it too.
    revoked = httpx.post(
        f"{world.base_url}/oauth/revoke",
        data={"token": refreshed.json()["refresh_token"], "client_id": client["client_id"]},
    )
    assert revoked.status_code == 200
    again = token_request(
        world.base_url,
        grant_type="refresh_token",
        refresh_token=refreshed.json()["refresh_token"],
        client_id=client["client_id"],
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    httpx.post(
        f"{world.base_url}/oauth/revoke",
        data={
            "token": refreshed.json()["access_token"],
            "token_type_hint": "access_token",
            "client_id": client["client_id"],
        },
    ).raise_for_status()
    after = httpx.post(
        f"{world.base_url}/oauth/introspect",
        data={"token": refreshed.json()["access_token"]},
        auth=(gateway_id, gateway_secret),
    ).json()
    assert after == {"active": False}


def test_a_signed_in_user_goes_straight_to_consent(world: World, browser: Browser) -> None:
    dev = person(world, "dev@acme.test", PASSWORD)
    client = register_client(world.base_url)
    obtain_code(browser, client["client_id"], dev.email, PASSWORD)
    second = obtain_code(browser, client["client_id"], "unused", "unused")
    assert exchange(world.base_url, client["client_id"], second).status_code == 200


def test_wrong_password_shows_the_form_again_with_an_error(world: World, browser: Browser) -> None:
    person(world, "dev@acme.test", PASSWORD)
    client = register_client(world.base_url)
    page = browser.authorize(
        response_type="code",
        client_id=client["client_id"],
        redirect_uri=REDIRECT_URI,
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
    )
    answer = browser.submit(page, "/oauth/authorize/login", email="dev@acme.test", password="nope")
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text
    assert "Wrong email or password" in answer.text
    assert "stoa_login" not in answer.cookies


def test_a_form_without_the_matching_csrf_token_is_refused(world: World, browser: Browser) -> None:
    person(world, "dev@acme.test", PASSWORD)
    client = register_client(world.base_url)
    page = browser.authorize(
        response_type="code",
        client_id=client["client_id"],
        redirect_uri=REDIRECT_URI,
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
    )
    fields = hidden_fields(page.text)
    # Another site's form posts with the victim's cookies but cannot know the token.
    forged = browser.http.post(
        "/oauth/authorize/login",
        data={
            "request": fields["request"],
            "csrf": "forged",
            "email": "dev@acme.test",
            "password": PASSWORD,
        },
    )
    assert forged.status_code == 403
    assert "CSRF" in forged.text
    assert "stoa_login" not in forged.cookies


def test_denying_consent_sends_access_denied_to_the_client(world: World, browser: Browser) -> None:
    person(world, "dev@acme.test", PASSWORD)
    client = register_client(world.base_url)
    page = browser.authorize(
        response_type="code",
        client_id=client["client_id"],
        redirect_uri=REDIRECT_URI,
        state="s1",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
    )
    consent = browser.submit(
        page, "/oauth/authorize/login", email="dev@acme.test", password=PASSWORD
    )
    denied = browser.submit(consent, "/oauth/authorize/consent", decision="deny")
    assert denied.status_code == 303
    location = denied.headers["location"]
    assert location.startswith(REDIRECT_URI)
    assert "error=access_denied" in location
    assert "state=s1" in location
    assert "iss=" in location


def test_client_credentials_for_a_service_account(world: World) -> None:
    client_id, secret = service_account(world, "ci", roles=("devops",))
    response = httpx.post(
        f"{world.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "stoa:read"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert "refresh_token" not in token
    claims = _claims(world, token["access_token"])
    assert claims["roles"] == ["devops"]
    assert claims["tenant"] == "acme"
    wrong = httpx.post(
        f"{world.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, "stoa_cs_wrong"),
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")


def test_rotated_signing_key_is_published_and_trusted(world: World) -> None:
    client_id, secret = service_account(world, "ci")
    before = httpx.post(
        f"{world.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    ).json()["access_token"]

    async def rotate() -> str:
        engine = create_engine(world.settings.resolved_database_url)
        box = SecretBox(load_platform_secrets(world.settings).master_key)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await rotate_signing_key(session, box)
        finally:
            await engine.dispose()

    new_kid = asyncio.run(rotate())
    after = httpx.post(
        f"{world.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    ).json()["access_token"]
    kids = [key["kid"] for key in httpx.get(f"{world.base_url}/oauth/jwks").json()["keys"]]
    assert new_kid in kids
    assert len(kids) == 2
    for token in (before, after):
        assert (
            httpx.get(
                f"{world.base_url}/v1/tenants", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )


def test_client_registration_is_audited(world: World) -> None:
    client = register_client(world.base_url)
    admin = world.platform_admin()
    entries = admin.get("/v1/audit", params={"action": "oauth_client.register"}).json()["items"]
    assert [e["target_id"] for e in entries] == [client["client_id"]]
    assert entries[0]["actor_id"] == "anonymous"
    assert "127.0.0.1" in entries[0]["actor_label"]
