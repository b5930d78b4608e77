"""Client ID metadata documents: URL rules, document rules, caching, the SSRF guard.

The network is httpx's MockTransport; the SSRF checks of `SafeFetcher` run as usual
(the client ids use an IP literal, so nothing is resolved)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from stoa.identity.client_metadata import ClientMetadataDocuments
from stoa.identity.oauth_errors import OAuthError
from stoa.kit.ssrf import FetchPolicy

CLIENT_ID = "https://127.0.0.1/mcp-client.json"
POLICY = FetchPolicy(allow_private_networks=True, timeout_seconds=5, max_response_bytes=1_000_000)


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_name": "Example MCP client",
        "redirect_uris": ["http://127.0.0.1:3000/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


class Served:
    def __init__(self, body: bytes, status: int = 200, cache_control: str = "") -> None:
        self.body, self.status, self.cache_control, self.calls = body, status, cache_control, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        headers = {"content-type": "application/json"}
        if self.cache_control:
            headers["cache-control"] = self.cache_control
        return httpx.Response(self.status, content=self.body, headers=headers)


def _documents(served: Served, policy: FetchPolicy = POLICY) -> ClientMetadataDocuments:
    return ClientMetadataDocuments(
        policy,
        max_bytes=5 * 1024,
        min_cache_seconds=60,
        max_cache_seconds=3600,
        transport=httpx.MockTransport(served),
    )


@pytest.mark.anyio
async def test_valid_document_is_used_and_cached() -> None:
    served = Served(json.dumps(_document()).encode(), cache_control="max-age=0")
    documents = _documents(served)
    first = await documents.get(CLIENT_ID)
    again = await documents.get(CLIENT_ID)
    assert first == again
    assert first.client_name == "Example MCP client"
    assert first.redirect_uris == ("http://127.0.0.1:3000/callback",)
    # max-age=0 is raised to the minimum cache time: one fetch.
    assert served.calls == 1


@pytest.mark.anyio
async def test_no_store_is_fetched_every_time() -> None:
    served = Served(json.dumps(_document()).encode(), cache_control="no-store")
    documents = _documents(served)
    await documents.get(CLIENT_ID)
    await documents.get(CLIENT_ID)
    assert served.calls == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_document(client_id="https://127.0.0.1/other.json"), "does not equal"),
        (_document(client_secret="s3cret"), "public clients"),
        (_document(token_endpoint_auth_method="client_secret_basic"), "public clients"),
        (_document(redirect_uris=[]), "redirect_uris"),
        (_document(redirect_uris=["http://evil.example/cb"]), "https"),
        (_document(grant_types=["client_credentials"]), "grant_types"),
        (["not", "an", "object"], "JSON object"),
    ],
)
async def test_documents_breaking_a_rule_are_refused(document: Any, reason: str) -> None:
    documents = _documents(Served(json.dumps(document).encode()))
    with pytest.raises(OAuthError) as refused:
        await documents.get(CLIENT_ID)
    assert refused.value.error == "invalid_client"
    assert reason in refused.value.description


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client_id", "reason"),
    [
        ("https://127.0.0.1/", "path"),
        ("https://127.0.0.1/a/../b.json", "segments"),
        ("https://user:pw@127.0.0.1/c.json", "credentials"),
        ("https://127.0.0.1/c.json#x", "fragment"),
    ],
)
async def test_bad_client_id_urls_are_refused_without_fetching(client_id: str, reason: str) -> None:
    served = Served(b"{}")
    with pytest.raises(OAuthError) as refused:
        await _documents(served).get(client_id)
    assert reason in refused.value.description
    assert served.calls == 0


@pytest.mark.anyio
async def test_oversize_documents_and_errors_are_refused() -> None:
    big = json.dumps(_document(client_name="x" * 10_000)).encode()
    with pytest.raises(OAuthError) as too_big:
        await _documents(Served(big)).get(CLIENT_ID)
    assert "cannot be fetched" in too_big.value.description
    with pytest.raises(OAuthError) as missing:
        await _documents(Served(b"{}", status=404)).get(CLIENT_ID)
    assert "404" in missing.value.description


@pytest.mark.anyio
async def test_ssrf_guard_refuses_private_addresses_unless_allowed() -> None:
    strict = FetchPolicy(allow_private_networks=False, timeout_seconds=5, max_response_bytes=10_000)
    served = Served(json.dumps(_document()).encode())
    with pytest.raises(OAuthError) as refused:
        await _documents(served, strict).get(CLIENT_ID)
    assert "loopback" in refused.value.description
    assert served.calls == 0
    metadata = "https://169.254.169.254/latest/meta-data.json"
    with pytest.raises(OAuthError):
        await _documents(served).get(metadata)
    assert served.calls == 0


@pytest.mark.anyio
async def test_only_https_client_uris_are_kept() -> None:
    unsafe = json.dumps(_document(client_uri="javascript:alert(1)")).encode()
    assert (await _documents(Served(unsafe)).get(CLIENT_ID)).client_uri is None
    safe = json.dumps(_document(client_uri="https://agent.example")).encode()
    assert (await _documents(Served(safe)).get(CLIENT_ID)).client_uri == "https://agent.example"
