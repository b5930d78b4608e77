"""The official MCP Python SDK's OAuth clients against the embedded authorization server.

The SDK starts discovery from a protected resource. The gateway's MCP endpoint is not
what is under test here, so `resource_server` is a test double of a resource server
only: it publishes RFC 9728 metadata naming our issuer, answers 401 with a
`resource_metadata` challenge, and accepts a request only with a bearer token that the
kit's `TokenVerifier` accepts for its own URL as audience (keys fetched from our JWKS
through discovery). Everything on the authorization side is the real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.shared.auth import (
    OAuthClientMetadata,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stoa.cli import local_admin
from stoa.controlplane.app import create_app
from stoa.controlplane.models import Application
from stoa.kit.errors import Unauthenticated
from stoa.kit.ids import new_id
from stoa.kit.settings import Settings
from stoa.kit.token_verify import RemoteJwksSource, TokenVerifier
from support.databases import create_database
from support.mcp_oauth import MemoryStorage, PersonAtTheBrowser
from support.servers import ServerThread, free_port

pytestmark = pytest.mark.e2e

PASSWORD = "k7mq2-xvh9p-4rtzw-ncd8e-u3jas"


@dataclass
class Stack:
    issuer: str
    resource: str  # the MCP endpoint URL of the resource-server double
    settings: Settings
    application_id: str
    service_client_id: str
    service_client_secret: str


def _resource_server(resource: str, issuer: str) -> Starlette:
    """Test double of a resource server (see the module docstring)."""
    origin = resource.rsplit("/mcp", 1)[0]
    metadata_url = f"{origin}/.well-known/oauth-protected-resource/mcp"

    async def protected_resource(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "resource": resource,
                "authorization_servers": [issuer],
                "scopes_supported": ["stoa:read", "stoa:write"],
                "bearer_methods_supported": ["header"],
            }
        )

    async def mcp(request: Request) -> JSONResponse:
        challenge = {"WWW-Authenticate": f'Bearer resource_metadata="{metadata_url}"'}
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return JSONResponse({"error": "unauthorized"}, status_code=401, headers=challenge)
        # A fresh client (and key fetch) per request keeps the double free of state.
        async with httpx.AsyncClient(timeout=10) as client:
            verifier = TokenVerifier(
                issuer=issuer, audience=resource, keys=RemoteJwksSource(issuer, client)
            )
            try:
                claims = await verifier.verify(token)
            except Unauthenticated as exc:
                return JSONResponse({"error": exc.detail}, status_code=401, headers=challenge)
        return JSONResponse({"claims": claims})

    return Starlette(
        routes=[
            Route("/.well-known/oauth-protected-resource/mcp", protected_resource),
            Route("/.well-known/oauth-protected-resource", protected_resource),
            Route("/mcp", mcp, methods=["GET", "POST"]),
            Route("/healthz", lambda _: JSONResponse({"ok": True})),
        ]
    )


async def _seed(settings: Settings) -> tuple[str, str, str]:
    user = await local_admin.create_user(
        settings,
        email="dev@demo.test",
        roles=["developer"],
        tenant="demo",
        password=PASSWORD,
        create_tenant=True,
    )
    account = await local_admin.create_service_account(
        settings, name="ci", roles=["devops"], tenant="demo"
    )
    app_id = new_id("app")
    async with local_admin.transaction(settings) as session:
        session.add(
            Application(id=app_id, owner_id=user.id, tenant_id=user.tenant_id, name="agent")
        )
    return app_id, account.client_id or "", account.client_secret


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    scratch: Path = tmp_path_factory.mktemp("e2e-identity")
    cp_port, rs_port = free_port(), free_port()
    issuer, rs_origin = f"http://127.0.0.1:{cp_port}", f"http://127.0.0.1:{rs_port}"
    settings = Settings(
        data_dir=scratch / "data",
        database_url=create_database("sqlite", scratch),
        public_url=issuer,
        gateway_public_url=rs_origin,
    )
    application_id, client_id, secret = asyncio.run(_seed(settings))
    control_plane = ServerThread(create_app(settings), port=cp_port).start()
    resource_server = ServerThread(
        _resource_server(f"{rs_origin}/mcp", issuer), port=rs_port
    ).start()
    try:
        yield Stack(issuer, f"{rs_origin}/mcp", settings, application_id, client_id, secret)
    finally:
        resource_server.stop()
        control_plane.stop()


def test_sdk_discovers_registers_signs_in_with_pkce_and_calls_the_resource(stack: Stack) -> None:
    storage = MemoryStorage()
    person = PersonAtTheBrowser("dev@demo.test", PASSWORD, stack.application_id)
    provider = OAuthClientProvider(
        server_url=stack.resource,
        client_metadata=OAuthClientMetadata(
            client_name="MCP SDK e2e",
            redirect_uris=["http://127.0.0.1:33418/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=person.redirect,
        callback_handler=person.callback,
    )

    async def call() -> httpx2.Response:
        async with httpx2.AsyncClient(auth=provider, timeout=30) as client:
            return await client.post(
                stack.resource, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
            )

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    assert person.pages_seen == ["login", "consent"]
    claims = response.json()["claims"]
    assert claims["aud"] == stack.resource
    assert claims["stoa_app"] == stack.application_id
    assert claims["tenant"] == "demo"
    assert storage.client is not None
    assert storage.client.token_endpoint_auth_method == "none"
    assert storage.tokens is not None
    assert storage.tokens.refresh_token is not None
    assert "stoa:read" in (storage.tokens.scope or "")


def test_sdk_client_credentials_provider_gets_a_token_for_a_service_account(stack: Stack) -> None:
    provider = ClientCredentialsOAuthProvider(
        server_url=stack.resource,
        storage=MemoryStorage(),
        client_id=stack.service_client_id,
        client_secret=stack.service_client_secret,
        issuer=stack.issuer,
    )

    async def call() -> httpx2.Response:
        async with httpx2.AsyncClient(auth=provider, timeout=30) as client:
            return await client.get(stack.resource)

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    claims = response.json()["claims"]
    assert claims["aud"] == stack.resource
    assert claims["roles"] == ["devops"]
    assert claims["client_id"] == stack.service_client_id
