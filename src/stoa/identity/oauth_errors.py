"""OAuth error responses (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750 §3.1).

Every OAuth endpoint answers a refusal with `{"error": ..., "error_description": ...}`
and the status the RFC gives; nothing about a refusal is ever a 500.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """A refusal with its RFC error code.

    `commit` marks refusals whose side effects must persist although the request fails
    (a reused refresh token revokes its family, a reused code revokes its tokens).
    """

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
        commit: bool = False,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})
        self.commit = commit

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers={**NO_STORE, **self.headers},
        )


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    # RFC 6749 §5.2: 401 and a WWW-Authenticate challenge when the client used Basic.
    headers = {"WWW-Authenticate": 'Basic realm="stoa"'} if basic else None
    return OAuthError("invalid_client", description, status=401, headers=headers)


def invalid_grant(description: str, *, commit: bool = False) -> OAuthError:
    return OAuthError("invalid_grant", description, commit=commit)


def invalid_token(description: str) -> OAuthError:
    """RFC 6750 §3.1, for UserInfo."""
    challenge = f'Bearer error="invalid_token", error_description="{description}"'
    return OAuthError(
        "invalid_token", description, status=401, headers={"WWW-Authenticate": challenge}
    )
