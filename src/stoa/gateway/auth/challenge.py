"""401 and 403 answers with the `WWW-Authenticate` challenges of RFC 6750 and RFC 9728."""

from __future__ import annotations

from stoa.gateway.http.problem import problem
from stoa.gateway.http.response import Response

READ_SCOPE = "stoa:read"
WRITE_SCOPE = "stoa:write"


def unauthorized(detail: str, resource_metadata: str, *, invalid_token: bool) -> Response:
    """401: no usable credential. `invalid_token` when one was presented and refused."""
    challenge = f'Bearer resource_metadata="{resource_metadata}"'
    if invalid_token:
        challenge += ', error="invalid_token"'
    return problem(401, "unauthenticated", detail, headers=[("www-authenticate", challenge)])


def insufficient_scope(scope: str, resource_metadata: str) -> Response:
    """403: the token is valid but lacks `scope`."""
    challenge = (
        f'Bearer error="insufficient_scope", scope="{scope}", '
        f'resource_metadata="{resource_metadata}"'
    )
    return problem(
        403,
        "insufficient-scope",
        f"the token lacks the {scope} scope; ask for it when requesting the token",
        headers=[("www-authenticate", challenge)],
    )
