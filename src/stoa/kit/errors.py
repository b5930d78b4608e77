"""The one tree of domain errors.

Services raise these; the HTTP layer maps each to an RFC 9457 problem document with the
status and `type` below. The message must say what to fix.
"""

from __future__ import annotations

from typing import Any


class StoaError(Exception):
    """Base of every expected failure. `detail` is shown to the caller."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(StoaError):
    """The request is well-formed but its content breaks a rule."""

    status = 422
    title = "Invalid input"
    slug = "invalid-input"


class NotFound(StoaError):
    """The target does not exist, or the caller may not know that it exists."""

    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(StoaError):
    """The change clashes with the current state (duplicate name, illegal lifecycle move)."""

    status = 409
    title = "Conflict"
    slug = "conflict"


class Unauthenticated(StoaError):
    """No valid credential."""

    status = 401
    title = "Unauthenticated"
    slug = "unauthenticated"


class Forbidden(StoaError):
    """The caller is known and may see the target, but lacks the role for this action."""

    status = 403
    title = "Forbidden"
    slug = "forbidden"


class UpstreamError(StoaError):
    """A URL the user gave us could not be fetched or returned something unusable."""

    status = 422
    title = "Upstream unusable"
    slug = "upstream-unusable"


class UnsafeUrl(InvalidInput):
    """A user-supplied URL points somewhere the SSRF guard refuses."""

    title = "Unsafe URL"
    slug = "unsafe-url"
