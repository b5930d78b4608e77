"""Bearer tokens on `/mcp`: a token's scopes decide which tools it may call.

A small OIDC issuer (discovery and JWKS over HTTP, tokens signed in process) is trusted by
a real gateway through `STOA_OIDC_ISSUER`; the token's subject owns the application whose
subscriptions apply.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from support.gateway_mcp import GatewayRun, Stack
from support.servers import ServerThread

pytestmark = pytest.mark.e2e

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


class Issuer:
    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256"})
        self.server = ServerThread(self._app(), ready_path="/.well-known/openid-configuration")
        self.url = self.server.url

    def _app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

        async def jwks(request: Request) -> Response:
            return JSONResponse({"keys": [self.key.as_dict(private=False)]})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
            ]
        )

    def token(self, audience: str, scope: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": "user-dev",
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "scope": scope,
        }
        return jwt.encode({"alg": "ES256", "kid": "k1"}, claims, self.key)


@pytest.fixture(scope="module")
def token_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    issuer = Issuer()
    issuer.server.start()
    gateway = GatewayRun(
        stack.gateway.snapshot,
        tmp_path_factory.mktemp("gw-tokens"),
        workers=1,
        env={"STOA_OIDC_ISSUER": issuer.url},
    )
    try:
        yield gateway, issuer
    finally:
        gateway.stop()
        issuer.server.stop()


def call(
    url: str, token: str, method: str, params: dict[str, Any], name: str = ""
) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
    }
    if name:
        headers["Mcp-Name"] = name
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": META}}
    return httpx.post(url, json=body, headers=headers, timeout=30)


def call_tool(url: str, token: str, name: str, arguments: dict[str, Any]) -> httpx.Response:
    return call(url, token, "tools/call", {"name": name, "arguments": arguments}, name)


def test_a_read_only_token_lists_and_calls_read_only_tools_only(token_gateway: Any) -> None:
    gateway, issuer = token_gateway
    url = gateway.url + "/mcp"
    token = issuer.token(url, "stoa:read")
    listed = call(url, token, "tools/list", {})
    assert listed.status_code == 200, listed.text
    assert "toolbox__echo" in [t["name"] for t in listed.json()["result"]["tools"]]

    added = call(
        url,
        token,
        "tools/call",
        {"name": "toolbox__add", "arguments": {"a": 1, "b": 2}},
        "toolbox__add",
    )
    assert added.json()["result"]["structuredContent"] == {"result": 3.0}

    refused = call(
        url,
        token,
        "tools/call",
        {"name": "toolbox__echo", "arguments": {"text": "x"}},
        "toolbox__echo",
    )
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="stoa:write"' in challenge
    assert refused.json()["error"]["data"]["scope"] == "stoa:write"


def test_a_read_write_token_calls_every_tool(token_gateway: Any) -> None:
    gateway, issuer = token_gateway
    url = gateway.url + "/mcp"
    token = issuer.token(url, "stoa:read stoa:write")
    echoed = call(
        url,
        token,
        "tools/call",
        {"name": "toolbox__echo", "arguments": {"text": "y"}},
        "toolbox__echo",
    )
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["result"]["content"][0]["text"] == "y"


def test_a_token_for_another_audience_is_refused(token_gateway: Any, tmp_path: Path) -> None:
    gateway, issuer = token_gateway
    url = gateway.url + "/mcp"
    token = issuer.token("https://elsewhere.example/mcp", "stoa:read stoa:write")
    assert call(url, token, "tools/list", {}).status_code == 401
