"""/mcp through the gateway server: authentication, then the MCP endpoint answers."""

from __future__ import annotations

import httpx

from conftest import Issuer, StartGateway, Upstreams

_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


def test_mcp_without_credentials_points_at_the_resource_metadata(
    start_gateway: StartGateway, upstreams: Upstreams
) -> None:
    gateway = start_gateway(upstreams.spec())
    aggregate = httpx.post(f"{gateway.url}/mcp", headers=_HEADERS, json=_INITIALIZE)
    assert aggregate.status_code == 401
    assert (
        aggregate.headers["www-authenticate"]
        == f'Bearer resource_metadata="{gateway.url}/.well-known/oauth-protected-resource"'
    )
    per_api = httpx.post(f"{gateway.url}/mcp/demo/weather", headers=_HEADERS, json=_INITIALIZE)
    assert per_api.status_code == 401
    metadata_url = f"{gateway.url}/.well-known/oauth-protected-resource/mcp/demo/weather"
    assert f'resource_metadata="{metadata_url}"' in per_api.headers["www-authenticate"]
    assert httpx.get(metadata_url).json()["resource"] == f"{gateway.url}/mcp/demo/weather"


def test_key_and_token_callers_list_their_tools(
    start_gateway: StartGateway, upstreams: Upstreams, issuer: Issuer
) -> None:
    spec = upstreams.spec()
    assert spec.keys is not None
    gateway = start_gateway(spec)
    per_api_token = issuer.token(f"{gateway.url}/mcp/demo/weather", stoa_app="app_dev")
    for url, credential in (
        (f"{gateway.url}/mcp", {"x-api-key": spec.keys.good}),
        (f"{gateway.url}/mcp", {"authorization": f"Bearer {issuer.token(gateway.url)}"}),
        # A token for the per-API resource (RFC 8707) is good on that endpoint.
        (f"{gateway.url}/mcp/demo/weather", {"authorization": f"Bearer {per_api_token}"}),
    ):
        headers = {**_HEADERS, **credential}
        initialized = httpx.post(url, headers=headers, json=_INITIALIZE)
        assert initialized.status_code == 200, initialized.text
        session = initialized.headers["mcp-session-id"]
        listed = httpx.post(
            url,
            headers={**headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"},
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        )
        assert listed.status_code == 200, listed.text
        names = [tool["name"] for tool in listed.json()["result"]["tools"]]
        assert names == (["getForecast"] if url.endswith("weather") else ["weather__getForecast"])
    # That per-API token is not good for the aggregate endpoint.
    refused = httpx.post(
        f"{gateway.url}/mcp",
        headers={**_HEADERS, "authorization": f"Bearer {per_api_token}"},
        json=_INITIALIZE,
    )
    assert refused.status_code == 401
