"""OAuth 2.0 protected resource metadata (RFC 9728) for the gateway's resources."""

from __future__ import annotations

import msgspec

from stoa.gateway.auth.challenge import READ_SCOPE, WRITE_SCOPE
from stoa.gateway.http.response import Response

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def resource_for(public_url: str, well_known_path: str) -> str | None:
    """The resource a metadata path describes: the gateway itself for the bare path,
    `{gateway}/mcp` and `{gateway}/mcp/{tenant}/{api}` for the path-suffixed forms."""
    suffix = well_known_path[len(WELL_KNOWN) :]
    if suffix in ("", "/"):
        return public_url
    parts = suffix.split("/")
    if suffix == "/mcp" or (len(parts) == 4 and parts[1] == "mcp" and parts[2] and parts[3]):
        return public_url + suffix
    return None


def metadata_response(resource: str, authorization_server: str) -> Response:
    document = {
        "resource": resource,
        "authorization_servers": [authorization_server],
        "scopes_supported": [READ_SCOPE, WRITE_SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": "STOA gateway",
    }
    return Response(
        200,
        [("content-type", "application/json"), ("cache-control", "public, max-age=300")],
        msgspec.json.encode(document),
    )
