"""`stoa identity` alone (its own app on the control plane's database): discovery,
dynamic client registration with its limits, and a grant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from stoa.cli import local_admin
from stoa.identity.app import create_identity_app
from stoa.kit.settings import Settings
from support.databases import create_database
from support.oauth import (
    REDIRECT_URI,
    Browser,
    exchange,
    obtain_code,
    pkce_pair,
    register_client,
)
from support.servers import ServerThread, free_port


@dataclass(frozen=True)
class Identity:
    url: str
    settings: Settings


def _serve(scratch: Path, registrations_per_hour: int) -> tuple[ServerThread, Settings]:
    port = free_port()
    settings = Settings(
        data_dir=scratch / "data",
        database_url=create_database("sqlite", scratch),
        public_url=f"http://127.0.0.1:{port}",
        identity={"registrations_per_ip_per_hour": registrations_per_hour},
    )
    return ServerThread(create_identity_app(settings), port=port).start(), settings


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identity]:
    server, settings = _serve(tmp_path_factory.mktemp("identity"), 1000)
    try:
        yield Identity(server.url, settings)
    finally:
        server.stop()


@pytest.fixture
def strict_identity(tmp_path: Path) -> Iterator[Identity]:
    """A server that accepts two registrations per address and hour."""
    server, settings = _serve(tmp_path, 2)
    try:
        yield Identity(server.url, settings)
    finally:
        server.stop()


def _register(identity: Identity, body: object) -> httpx.Response:
    return httpx.post(f"{identity.url}/oauth/register", json=body)


def test_both_discovery_documents_agree_and_describe_the_server(identity: Identity) -> None:
    oauth = httpx.get(f"{identity.url}/.well-known/oauth-authorization-server").json()
    oidc = httpx.get(f"{identity.url}/.well-known/openid-configuration").json()
    assert oauth == oidc
    assert oauth["issuer"] == identity.url
    assert oauth["code_challenge_methods_supported"] == ["S256"]
    assert oauth["client_id_metadata_document_supported"] is True
    assert oauth["authorization_response_iss_parameter_supported"] is True
    assert oauth["scopes_supported"] == [
        "openid",
        "profile",
        "email",
        "offline_access",
        "stoa:read",
        "stoa:write",
        "stoa:admin",
    ]
    assert set(oauth["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
    ):
        assert oauth[name].startswith(identity.url + "/oauth/")
    keys = httpx.get(oauth["jwks_uri"]).json()["keys"]
    assert keys
    assert all("d" not in key and key["alg"] == "ES256" for key in keys)


def test_registration_gives_a_public_client(identity: Identity) -> None:
    answer = _register(
        identity,
        {
            "client_name": "Claude",
            "redirect_uris": ["http://localhost:3000/cb", "https://app.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "openid stoa:read",
            "unknown_field": "ignored",
        },
    )
    assert answer.status_code == 201, answer.text
    client = answer.json()
    assert client["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in client
    assert client["scope"] == "openid stoa:read"
    assert client["redirect_uris"] == ["http://localhost:3000/cb", "https://app.example/cb"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["/relative"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://u:p@app.example/cb"]}, "invalid_redirect_uri"),
        (
            {"redirect_uris": ["https://app.example/cb"], "grant_types": ["client_credentials"]},
            "invalid_client_metadata",
        ),
        (
            {
                "redirect_uris": ["https://app.example/cb"],
                "token_endpoint_auth_method": "private_key_jwt",
            },
            "invalid_client_metadata",
        ),
        ({"redirect_uris": ["https://app.example/cb"], "scope": "root"}, "invalid_client_metadata"),
        (
            {"redirect_uris": ["https://app.example/cb"], "response_types": ["token"]},
            "invalid_client_metadata",
        ),
        (["not", "an", "object"], "invalid_client_metadata"),
    ],
)
def test_registration_refuses_bad_metadata(identity: Identity, body: object, error: str) -> None:
    answer = _register(identity, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error


def test_oversize_and_non_json_registrations_are_refused(identity: Identity) -> None:
    huge = {"redirect_uris": ["https://app.example/cb"], "client_name": "x" * 20_000}
    assert _register(identity, huge).json()["error"] == "invalid_client_metadata"
    text = httpx.post(
        f"{identity.url}/oauth/register",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert text.status_code == 400
    assert text.json()["error"] == "invalid_client_metadata"


def test_registrations_are_limited_per_address(strict_identity: Identity) -> None:
    body = {"redirect_uris": ["https://app.example/cb"]}
    assert [_register(strict_identity, body).status_code for _ in range(2)] == [201, 201]
    limited = _register(strict_identity, body)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"] == "temporarily_unavailable"


def test_unknown_routes_and_methods_are_not_server_errors(identity: Identity) -> None:
    assert httpx.get(f"{identity.url}/oauth/token").status_code == 405
    assert httpx.get(f"{identity.url}/oauth/authorize").status_code == 400


REDIS_URL = "redis://127.0.0.1:6379/15"


def _forget_throttle_keys() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter("stoa:login-throttle:*"):
            client.delete(key)
    finally:
        client.close()


def test_sign_in_throttling_is_shared_by_replicas_through_redis(tmp_path: Path) -> None:
    _forget_throttle_keys()
    database_url = create_database("sqlite", tmp_path)
    replicas: list[ServerThread] = []
    try:
        for index in range(2):
            port = free_port()
            settings = Settings(
                data_dir=tmp_path / "data",
                database_url=database_url,
                public_url=f"http://127.0.0.1:{port}",
                redis_url=REDIS_URL,
            )
            replicas.append(ServerThread(create_identity_app(settings), port=port).start())
            if index == 0:
                asyncio.run(
                    local_admin.create_user(
                        settings,
                        email="shared@acme.test",
                        roles=["developer"],
                        tenant="acme",
                        password="right-password-123",
                        create_tenant=True,
                    )
                )

        def attempt(server: ServerThread, password: str) -> int:
            client_id = register_client(server.url)["client_id"]
            browser = Browser(server.url)
            try:
                page = browser.authorize(
                    response_type="code",
                    client_id=client_id,
                    redirect_uri=REDIRECT_URI,
                    code_challenge=pkce_pair()[1],
                    code_challenge_method="S256",
                )
                answer = browser.submit(
                    page, "/oauth/authorize/login", email="shared@acme.test", password=password
                )
                return answer.status_code
            finally:
                browser.close()

        first, second = replicas
        assert [attempt(first, "wrong") for _ in range(6)] == [400] * 6
        # The other replica knows: the account is locked there too.
        assert attempt(second, "right-password-123") == 429
    finally:
        for server in replicas:
            server.stop()
        _forget_throttle_keys()


AGENT_DOCUMENT_URL = "https://127.0.0.1/agents/claude.json"


def test_client_id_metadata_document_client_signs_a_user_in(tmp_path: Path) -> None:
    """A client known only by its metadata document URL goes through the whole flow. The
    document's host is served by a MockTransport (no TLS server on loopback in tests); the
    SSRF checks of the fetcher run as in production."""
    fetched: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(
            200,
            json={
                "client_id": AGENT_DOCUMENT_URL,
                "client_name": "Claude (metadata document)",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            },
            headers={"cache-control": "max-age=600"},
        )

    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=create_database("sqlite", tmp_path),
        public_url=f"http://127.0.0.1:{port}",
    )
    asyncio.run(
        local_admin.create_user(
            settings,
            email="cimd@acme.test",
            roles=["developer"],
            tenant="acme",
            password="right-password-123",
            create_tenant=True,
        )
    )
    app = create_identity_app(settings, client_metadata_transport=httpx.MockTransport(serve))
    server = ServerThread(app, port=port).start()
    browser = Browser(server.url)
    try:
        result = obtain_code(
            browser, AGENT_DOCUMENT_URL, "cimd@acme.test", "right-password-123", scope="openid"
        )
        tokens = exchange(server.url, AGENT_DOCUMENT_URL, result)
        assert tokens.status_code == 200, tokens.text
        assert "refresh_token" in tokens.json()
        info = httpx.get(
            f"{server.url}/oauth/userinfo",
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        )
        assert info.json()["sub"]
        # Fetched once, then served from the cache for the token request.
        assert len(fetched) == 1
        wrong_uri = browser.authorize(
            response_type="code",
            client_id=AGENT_DOCUMENT_URL,
            redirect_uri="http://127.0.0.1:9/elsewhere",
            code_challenge=pkce_pair()[1],
            code_challenge_method="S256",
        )
        assert wrong_uri.status_code == 400
        assert "redirect_uri mismatch" in wrong_uri.text
    finally:
        browser.close()
        server.stop()


def test_unreachable_metadata_document_is_explained_to_the_user(identity: Identity) -> None:
    answer = httpx.get(
        f"{identity.url}/oauth/authorize",
        params={"response_type": "code", "client_id": "https://127.0.0.1:9/nothing.json"},
    )
    assert answer.status_code == 400
    assert "cannot be verified" in answer.text
