"""Reading upstreams for the catalog: OpenAPI documents (inline or fetched) and MCP
servers' tools, with the API's upstream credential sealed, unsealed and sent only where
it belongs. Every fetch goes through the SSRF-guarded `SafeFetcher`; failures become
`InvalidInput`/`UpstreamError` naming the request field they concern."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from stoa.controlplane.catalog.mcp_discovery import discover_mcp_tools
from stoa.controlplane.catalog.openapi import parse_openapi, tools_from_openapi
from stoa.controlplane.catalog.schemas import UpstreamAuthIn
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.controlplane.models import Api
from stoa.kit.crypto import DecryptionError, SecretBox
from stoa.kit.errors import Conflict, InvalidInput, UpstreamError
from stoa.kit.ssrf import SafeFetcher, check_url, display_url

_OPENAPI_ACCEPT = "application/vnd.oai.openapi+json, application/json, application/yaml, */*"


@dataclass(frozen=True, slots=True)
class Upstream:
    """What reaching upstreams needs: an SSRF-guarded fetcher for this operation, and the
    box that seals upstream credentials."""

    fetcher: SafeFetcher
    secret_box: SecretBox


def invalid(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field_name}: {message}", errors=[{"field": field_name, "message": message}]
    )


@contextmanager
def about(field_name: str) -> Iterator[None]:
    """Prefix input and upstream errors raised inside with the request field they concern."""
    try:
        yield
    except (InvalidInput, UpstreamError) as exc:
        extra = dict(exc.extra)
        extra["errors"] = [
            {
                "field": f"{field_name}.{e['field']}" if e.get("field") else field_name,
                "message": e.get("message", exc.detail),
            }
            for e in exc.extra.get("errors", [{"message": exc.detail}])
        ]
        raise type(exc)(f"{field_name}: {exc.detail}", **extra) from None


@dataclass(frozen=True, slots=True)
class Credential:
    location: str
    name: str
    value: str


def credential_from(given: UpstreamAuthIn | None) -> Credential | None:
    if given is None:
        return None
    return Credential(given.location, given.name, given.secret.get_secret_value())


def stored_credential(api: Api, box: SecretBox) -> Credential | None:
    if not (api.upstream_auth_location and api.upstream_auth_name and api.upstream_auth_secret):
        return None
    try:
        value = box.decrypt(api.upstream_auth_secret, context=api.id)
    except DecryptionError:
        raise Conflict(
            f"the upstream credential of api {api.name} cannot be decrypted with the current "
            "master key; set upstream_auth again"
        ) from None
    return Credential(api.upstream_auth_location, api.upstream_auth_name, value)


def store_credential(api: Api, credential: Credential | None, box: SecretBox) -> None:
    """Seal the credential onto the API (the id is the encryption context), or clear it."""
    if credential is None:
        api.upstream_auth_location = api.upstream_auth_name = api.upstream_auth_secret = None
        return
    api.upstream_auth_location = credential.location
    api.upstream_auth_name = credential.name
    api.upstream_auth_secret = box.encrypt(credential.value, context=api.id)


def with_credential(url: str, credential: Credential | None) -> tuple[str, dict[str, str]]:
    """`url` and headers carrying the credential where the upstream expects it."""
    if credential is None:
        return url, {}
    if credential.location == "header":
        return url, {credential.name: credential.value}
    return str(httpx.URL(url).copy_merge_params({credential.name: credential.value})), {}


def same_origin(first: str, second: str | None) -> bool:
    if second is None:
        return False
    try:
        a, b = httpx.URL(first), httpx.URL(second)
    except httpx.InvalidURL:
        return False
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def checked_url(url: str, field_name: str, fetcher: SafeFetcher) -> str:
    """`url` if it is an http(s) URL the SSRF guard allows (it must resolve now)."""
    with about(field_name):
        await check_url(url, fetcher.policy)
    return url.strip()


async def openapi_from(
    inline: dict[str, Any] | str | None,
    url: str | None,
    *,
    backend_url: str | None,
    credential: Credential | None,
    fetcher: SafeFetcher,
) -> tuple[dict[str, Any], list[ToolDraft]]:
    """The parsed document, given inline or fetched from `url`, and its tools.

    The upstream credential goes along only when the document is served by the backend
    itself (same origin): it is the backend's credential, not one for arbitrary hosts.
    """
    if url is not None:
        field_name = "openapi_url"
        target, headers = with_credential(
            url, credential if same_origin(url, backend_url) else None
        )
        with about(field_name):
            response = await fetcher.request(
                "GET", target, headers={"Accept": _OPENAPI_ACCEPT, **headers}
            )
            if not 200 <= response.status < 300:
                raise UpstreamError(
                    f"{display_url(url)} answered HTTP {response.status}, not an OpenAPI document"
                )
        source: str | bytes = response.content
    else:
        assert inline is not None
        field_name = "openapi"
        source = json.dumps(inline) if isinstance(inline, dict) else inline
    with about(field_name):
        document = parse_openapi(source)
        drafts = tools_from_openapi(document)
    return document, drafts


async def mcp_tools(
    url: str, credential: Credential | None, fetcher: SafeFetcher
) -> list[ToolDraft]:
    target, headers = with_credential(url, credential)
    with about("mcp_url"):
        return await discover_mcp_tools(target, fetcher, headers=headers or None)
