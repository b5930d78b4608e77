"""Which scopes a request may ask for."""

from __future__ import annotations

from stoa.identity.clients import Client
from stoa.identity.config import SUPPORTED_SCOPES
from stoa.identity.oauth_errors import OAuthError

_DEFAULT = ("stoa:read", "stoa:write")


def requested_scopes(scope: str | None, client: Client) -> list[str]:
    """The scopes of a `scope` parameter, in the order of `SUPPORTED_SCOPES`.

    Without one: `stoa:read stoa:write` (those the client may have). Raises `OAuthError`
    (invalid_scope) for an unknown scope or one the client did not register.
    """
    if scope is None or not scope.strip():
        return [s for s in _DEFAULT if s in client.scopes]
    asked = set(scope.split())
    unknown = asked - set(SUPPORTED_SCOPES)
    if unknown:
        raise OAuthError("invalid_scope", f"unknown scope {sorted(unknown)[0][:60]!r}")
    foreign = asked - client.scopes
    if foreign:
        raise OAuthError(
            "invalid_scope", f"the client did not register for scope {sorted(foreign)[0]!r}"
        )
    return [s for s in SUPPORTED_SCOPES if s in asked]
