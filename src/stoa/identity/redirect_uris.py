"""Redirect URI rules: what a client may register, and when a presented URI matches.

Matching is exact string comparison (OAuth 2.1 §4.1.1), with one exception from RFC 8252
§7.3: for a loopback redirect URI (`http://127.0.0.1`, `http://[::1]`, `http://localhost`)
the port may differ, because native apps get an ephemeral port from the OS.
"""

from __future__ import annotations

from urllib.parse import urlsplit

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_URI_LENGTH = 2000


def _is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS


def _without_port(uri: str) -> tuple[str, str, str, str]:
    parts = urlsplit(uri)
    return (parts.scheme, parts.hostname or "", parts.path, parts.query)


def redirect_uri_matches(registered: str, presented: str) -> bool:
    """Whether `presented` is `registered`, or the same loopback URI on another port."""
    if presented == registered:
        return True
    if _is_loopback_http(registered) and _is_loopback_http(presented):
        try:
            urlsplit(presented).port  # noqa: B018 - raises ValueError for an invalid port
        except ValueError:
            return False
        return _without_port(registered) == _without_port(presented)
    return False


def registrable_problem(uri: object) -> str | None:
    """Why `uri` may not be registered as a redirect URI, or None if it may.

    Allowed: absolute https URIs, and http URIs on a loopback host; no fragment, no
    user info, at most 2000 characters.
    """
    if not isinstance(uri, str) or not uri:
        return "each redirect URI must be a non-empty string"
    if len(uri) > MAX_URI_LENGTH:
        return f"redirect URIs are limited to {MAX_URI_LENGTH} characters"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    except ValueError:
        return f"{uri!r} is not a valid URI"
    if "#" in uri:
        return f"{uri!r} has a fragment; redirect URIs must not"
    if parts.username is not None or parts.password is not None:
        return f"{uri!r} carries credentials; redirect URIs must not"
    if not parts.hostname:
        return f"{uri!r} is not an absolute URI with a host"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return None
    return f"{uri!r} must use https, or http on a loopback address (127.0.0.1, [::1], localhost)"
