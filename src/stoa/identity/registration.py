"""Dynamic client registration (RFC 7591) for public clients, as MCP clients use it.

Accepted: `redirect_uris` (required, 1 to `max_redirect_uris`, each https or loopback
http, no fragment), `grant_types` among authorization_code and refresh_token (default
authorization_code), `response_types` ["code"], `token_endpoint_auth_method` "none" (a
request for client_secret_basic or client_secret_post is answered with "none", which RFC
7591 §3.2.1 allows: this server gives out no client secrets), `scope` among the
supported scopes, `client_name`, `client_uri`, `logo_uri`, `software_id`,
`software_version`. Other fields are ignored. Registration management (RFC 7592) is not
offered.

Abuse limits: the body size, and `registrations_per_ip_per_hour` per client address
(`RegistrationLimiter`, per process).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.models import OAuthClient
from stoa.controlplane.principal import Principal
from stoa.identity.config import (
    AUTHORIZATION_CODE,
    REFRESH_TOKEN,
    SUPPORTED_SCOPES,
    IdentityConfig,
)
from stoa.identity.oauth_errors import OAuthError
from stoa.identity.redirect_uris import registrable_problem
from stoa.kit.ids import new_id

_GRANTS = frozenset({AUTHORIZATION_CODE, REFRESH_TOKEN})
_SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})
_WINDOW_SECONDS = 3600.0
_MAX_TRACKED_ADDRESSES = 100_000


def invalid_metadata(description: str) -> OAuthError:
    return OAuthError("invalid_client_metadata", description)


def _https_url(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2000:
        raise invalid_metadata(f"{name} must be an https URL of at most 2000 characters")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise invalid_metadata(f"{name} must be an https URL")
    return value


def _short_text(value: object, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid_metadata(f"{name} must be a string of at most {limit} characters")
    return value.strip() or None


def validated_metadata(body: object, config: IdentityConfig) -> dict[str, Any]:
    """The client metadata to store, from a registration request body.

    Raises `OAuthError` with invalid_redirect_uri or invalid_client_metadata.
    """
    if not isinstance(body, dict):
        raise invalid_metadata("the registration request must be a JSON object")
    if "\\u0000" in json.dumps(body):
        raise invalid_metadata("the metadata must not contain NUL characters")
    uris = body.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        raise OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty list")
    if len(uris) > config.max_redirect_uris:
        raise OAuthError(
            "invalid_redirect_uri", f"at most {config.max_redirect_uris} redirect URIs"
        )
    for uri in uris:
        problem = registrable_problem(uri)
        if problem is not None:
            raise OAuthError("invalid_redirect_uri", problem)
    method = body.get("token_endpoint_auth_method", "none")
    if method != "none" and method not in _SECRET_METHODS:
        raise invalid_metadata(
            "token_endpoint_auth_method must be none: registered clients are public clients"
        )
    grants = body.get("grant_types", [AUTHORIZATION_CODE])
    if not isinstance(grants, list) or not grants or not set(grants) <= _GRANTS:
        raise invalid_metadata("grant_types may hold only authorization_code and refresh_token")
    if AUTHORIZATION_CODE not in grants:
        raise invalid_metadata("grant_types must include authorization_code")
    responses = body.get("response_types", ["code"])
    if responses != ["code"]:
        raise invalid_metadata('response_types must be ["code"]')
    scope = body.get("scope")
    if scope is None:
        scopes = list(SUPPORTED_SCOPES)
    elif isinstance(scope, str):
        unknown = set(scope.split()) - set(SUPPORTED_SCOPES)
        if unknown:
            raise invalid_metadata(f"unknown scope {sorted(unknown)[0][:60]!r}")
        scopes = [s for s in SUPPORTED_SCOPES if s in scope.split()]
    else:
        raise invalid_metadata("scope must be a space-separated string")
    return {
        "name": _short_text(body.get("client_name"), "client_name", 200) or "Unnamed client",
        "redirect_uris": list(dict.fromkeys(uris)),
        "grant_types": [g for g in (AUTHORIZATION_CODE, REFRESH_TOKEN) if g in grants],
        "scope": " ".join(scopes),
        "client_uri": _https_url(body.get("client_uri"), "client_uri"),
        "logo_uri": _https_url(body.get("logo_uri"), "logo_uri"),
        "software_id": _short_text(body.get("software_id"), "software_id", 200),
        "software_version": _short_text(body.get("software_version"), "software_version", 100),
    }


async def register(
    session: AsyncSession, body: object, config: IdentityConfig, *, source_ip: str | None
) -> dict[str, Any]:
    """Register a public client; returns the RFC 7591 §3.2.1 response body."""
    metadata = validated_metadata(body, config)
    row = OAuthClient(id=new_id("oc"), registered_from=source_ip, **metadata)
    session.add(row)
    await session.flush()
    registrant = Principal(
        user_id="anonymous",
        label=f"dynamic client registration from {source_ip or 'an unknown address'}",
        tenant_id=None,
        tenant_slug=None,
        roles=frozenset(),
        source_ip=source_ip,
    )
    await audit.record(
        session,
        registrant,
        action="oauth_client.register",
        target_type="oauth_client",
        target_id=row.id,
        tenant_id=None,
        after=audit.snapshot_of(row),
    )
    answer: dict[str, Any] = {
        "client_id": row.id,
        "client_id_issued_at": int(row.created_at.timestamp()),
        "client_name": row.name,
        "redirect_uris": row.redirect_uris,
        "grant_types": row.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": row.scope,
    }
    for name in ("client_uri", "logo_uri", "software_id", "software_version"):
        value = getattr(row, name)
        if value is not None:
            answer[name] = value
    return answer


class RegistrationLimiter:
    """At most `limit` registrations per client address in any hour (sliding window).

    Per process: with several replicas the limit holds per replica.
    """

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, address: str) -> int | None:
        """Count a registration from `address`; the seconds to wait if it is over the limit
        (then nothing is counted), else None."""
        now = self._clock()
        times = self._seen.setdefault(address, deque())
        self._seen.move_to_end(address)
        while times and times[0] <= now - _WINDOW_SECONDS:
            times.popleft()
        if len(times) >= self._limit:
            return max(1, math.ceil(times[0] + _WINDOW_SECONDS - now))
        times.append(now)
        while len(self._seen) > _MAX_TRACKED_ADDRESSES:
            self._seen.popitem(last=False)
        return None
