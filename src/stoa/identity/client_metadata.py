"""Client ID metadata documents: a client_id that is an https URL names a JSON document
describing the client (draft-ietf-oauth-client-id-metadata-document, the registration
method the MCP 2026-07-28 authorization spec prefers).

Rules applied to the URL: https, a path other than `/`, no fragment, no user info, no
dot segments. Rules applied to the document: a JSON object of at most
`IdentityConfig.client_metadata_bytes`, whose `client_id` equals the URL exactly, with
non-empty `redirect_uris` that each pass `redirect_uris.registrable_problem`, a public
client (`token_endpoint_auth_method` absent or "none", no `client_secret`), and only the
authorization_code and refresh_token grants.

Documents are fetched through `stoa.kit.ssrf.SafeFetcher` (so a client_id cannot make
the server call into the private network unless that is allowed) and cached per the
response's `Cache-Control: max-age`, bounded to the configured minimum and maximum.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import httpx

from stoa.identity.config import AUTHORIZATION_CODE, REFRESH_TOKEN, SUPPORTED_SCOPES
from stoa.identity.oauth_errors import OAuthError
from stoa.identity.redirect_uris import registrable_problem
from stoa.kit.errors import StoaError
from stoa.kit.ssrf import FetchPolicy, SafeFetcher

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)")
_ALLOWED_GRANTS = frozenset({AUTHORIZATION_CODE, REFRESH_TOKEN})
_MAX_CACHED = 1000


def is_metadata_document_url(client_id: str) -> bool:
    """Whether `client_id` is meant as a metadata document URL (https://...)."""
    return client_id.startswith("https://")


@dataclass(frozen=True, slots=True)
class ClientMetadataDocument:
    client_id: str
    client_name: str
    redirect_uris: tuple[str, ...]
    grant_types: frozenset[str]
    scopes: frozenset[str]
    client_uri: str | None


def _refuse(client_id: str, why: str) -> OAuthError:
    return OAuthError(
        "invalid_client", f"client metadata document {client_id[:200]}: {why}", status=401
    )


def url_problem(client_id: str) -> str | None:
    """Why `client_id` cannot be a metadata document URL, or None."""
    if len(client_id) > 2000:
        return "the URL is longer than 2000 characters"
    try:
        parts = urlsplit(client_id)
    except ValueError:
        return "the URL cannot be parsed"
    if parts.scheme != "https" or not parts.hostname:
        return "the client_id URL must be an https URL"
    if parts.fragment or "#" in client_id:
        return "the client_id URL must not have a fragment"
    if parts.username is not None or parts.password is not None:
        return "the client_id URL must not carry credentials"
    if parts.path in ("", "/"):
        return "the client_id URL must have a path"
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return "the client_id URL must not contain . or .. path segments"
    return None


def parse_document(client_id: str, document: object) -> ClientMetadataDocument:
    """Validate a fetched document for `client_id`. Raises `OAuthError` (invalid_client)."""
    if not isinstance(document, dict):
        raise _refuse(client_id, "the document is not a JSON object")
    if document.get("client_id") != client_id:
        raise _refuse(client_id, "its client_id does not equal the URL it was fetched from")
    method = document.get("token_endpoint_auth_method", "none")
    if method != "none" or "client_secret" in document:
        raise _refuse(
            client_id, "only public clients (token_endpoint_auth_method none) are allowed"
        )
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise _refuse(client_id, "redirect_uris must be a non-empty list")
    for uri in uris:
        problem = registrable_problem(uri)
        if problem is not None:
            raise _refuse(client_id, problem)
    grants = document.get("grant_types", [AUTHORIZATION_CODE])
    if not isinstance(grants, list) or not set(grants) <= _ALLOWED_GRANTS or not grants:
        raise _refuse(client_id, "grant_types may hold only authorization_code and refresh_token")
    name = document.get("client_name")
    scope = document.get("scope")
    scopes = set(scope.split()) if isinstance(scope, str) else set(SUPPORTED_SCOPES)
    client_uri = document.get("client_uri")
    return ClientMetadataDocument(
        client_id=client_id,
        client_name=name[:200] if isinstance(name, str) and name.strip() else client_id,
        redirect_uris=tuple(uris),
        grant_types=frozenset(grants),
        scopes=frozenset(scopes & set(SUPPORTED_SCOPES)),
        # Shown as a link on the consent page: https only.
        client_uri=client_uri
        if isinstance(client_uri, str) and client_uri.startswith("https://")
        else None,
    )


class ClientMetadataDocuments:
    """Fetches, validates and caches client ID metadata documents."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        max_bytes: int,
        min_cache_seconds: int,
        max_cache_seconds: int,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = replace(policy, max_response_bytes=max_bytes)
        self._transport = transport
        self._min_cache = min_cache_seconds
        self._max_cache = max_cache_seconds
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, ClientMetadataDocument]] = OrderedDict()
        self._lock = asyncio.Lock()

    async def get(self, client_id: str) -> ClientMetadataDocument:
        """The valid document for `client_id`. Raises `OAuthError` (invalid_client) when
        the URL, the fetch or the document is refused."""
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        problem = url_problem(client_id)
        if problem is not None:
            raise _refuse(client_id, problem)
        try:
            async with SafeFetcher(self._policy, self._transport) as fetcher:
                response = await fetcher.request(
                    "GET", client_id, headers={"Accept": "application/json"}
                )
        except StoaError as exc:
            raise _refuse(client_id, f"cannot be fetched: {exc.detail}") from None
        if response.status != 200:
            raise _refuse(client_id, f"fetching it answered HTTP {response.status}")
        try:
            body = response.json()
        except StoaError as exc:
            raise _refuse(client_id, exc.detail) from None
        document = parse_document(client_id, body)
        await self._remember(client_id, document, response.headers.get("cache-control", ""))
        return document

    async def _remember(
        self, client_id: str, document: ClientMetadataDocument, cache_control: str
    ) -> None:
        if "no-store" in cache_control:
            return
        match = _MAX_AGE.search(cache_control)
        wanted = int(match.group(1)) if match else self._min_cache
        seconds = min(max(wanted, self._min_cache), self._max_cache)
        async with self._lock:
            self._cache[client_id] = (self._clock() + seconds, document)
            self._cache.move_to_end(client_id)
            while len(self._cache) > _MAX_CACHED:
                self._cache.popitem(last=False)
