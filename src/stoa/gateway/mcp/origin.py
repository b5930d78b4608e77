"""`Origin` checks against DNS rebinding, as the Streamable HTTP transport requires.

A browser page on `http://evil.example` that rebinds its name to 127.0.0.1 can make the
browser POST to a local gateway; the `Origin` header it sends gives it away. Requests
without `Origin` (agents, CLIs, server-side clients) are not from a browser and pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "[::1]"})


class OriginPolicy:
    """Which `Origin` values may call `/mcp`.

    Allowed: no `Origin` at all; an origin in `allowed` (exact `scheme://host[:port]`,
    compared case-insensitively, `*` allows any); the gateway's public origin; and a
    loopback origin (localhost, 127.0.0.1, [::1]) whose host and port equal the request's
    `Host`. "Same host" alone is not enough: under DNS rebinding the browser sends the
    attacker's name as both `Origin` and `Host`, so only loopback names are trusted that way.
    """

    def __init__(self, allowed: Iterable[str], *, public_url: str | None = None) -> None:
        self._any = False
        self._allowed: set[str] = set()
        for origin in allowed:
            if origin.strip() == "*":
                self._any = True
            elif origin.strip():
                self._allowed.add(_normalize(origin.strip()))
        if public_url:
            self._allowed.add(_normalize(public_url))

    def allows(self, origin: str | None, host: str | None) -> bool:
        if origin is None or self._any:
            return True
        normalized = _normalize(origin)
        if normalized in self._allowed:
            return True
        if host is None:
            return False
        origin_host = _host_port(normalized)
        bare = origin_host if origin_host.endswith("]") else origin_host.rsplit(":", 1)[0]
        return bare in _LOOPBACK and origin_host == _host_port("http://" + host.strip().lower())


def _normalize(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    netloc = parts.netloc
    default = {"http": ":80", "https": ":443"}.get(parts.scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{parts.scheme}://{netloc}"


def _host_port(origin: str) -> str:
    """`host[:port]` of an origin, without the scheme's default port."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return "\x00invalid"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if port is None or port == default else f"{host}:{port}"
