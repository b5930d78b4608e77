"""Resource indicators (RFC 8707): which `resource` values a token may be issued for.

A token's `aud` is the requested resource, so the resource server that checks its own
URL as audience refuses tokens meant for another. Allowed: the control plane's audience
(`STOA_AUTH__AUDIENCE`, default `STOA_PUBLIC_URL`) and any URL under the gateway's public
URL (`STOA_GATEWAY_PUBLIC_URL`: `/mcp`, `/mcp/{tenant}/{api}`, `/proxy/...`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from stoa.kit.settings import Settings


def _origin_and_path(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port, parts.path.rstrip("/"))


def resource_problem(resource: str, settings: Settings) -> str | None:
    """Why a token may not be issued for `resource`, or None if it may."""
    try:
        parts = urlsplit(resource)
        scheme, host, port, path = _origin_and_path(resource)
    except ValueError:
        return "resource must be an absolute URI"
    if not parts.scheme or not parts.hostname:
        return "resource must be an absolute URI"
    if parts.fragment or "#" in resource:
        return "resource must not contain a fragment"
    if resource.rstrip("/") == settings.token_audience.rstrip("/"):
        return None
    g_scheme, g_host, g_port, g_path = _origin_and_path(settings.gateway_public_url)
    if (scheme, host, port) == (g_scheme, g_host, g_port) and (
        path == g_path or path.startswith(g_path + "/")
    ):
        return None
    return f"this server does not issue tokens for {resource[:200]}"


def audience_for(resource: str | None, settings: Settings) -> str:
    return resource if resource is not None else settings.token_audience
