"""What a gateway worker builds once at start and hands to its handlers."""

from __future__ import annotations

from dataclasses import dataclass

from stoa.gateway.proxy.pool import UpstreamPool
from stoa.gateway.snapshot.compiled import CompiledSnapshot
from stoa.gateway.snapshot.holder import SnapshotHolder
from stoa.kit.settings import Settings


@dataclass(slots=True)
class GatewayContext:
    """Shared by every connection of one worker process.

    `holder.current` is the snapshot to serve (read it once per request). `upstreams`
    is the keep-alive HTTP/1.1 pool (`await upstreams.request(...)`). Rate limits and
    usage are module-level: `stoa.gateway.ratelimit.admit`, `stoa.gateway.usage.record`.
    """

    settings: Settings
    holder: SnapshotHolder
    upstreams: UpstreamPool

    @property
    def snapshot(self) -> CompiledSnapshot | None:
        return self.holder.current

    @property
    def public_url(self) -> str:
        """The gateway's URL as agents reach it, without a trailing slash."""
        return self.settings.gateway_public_url.rstrip("/")

    def resource_metadata_url(self, path: str) -> str:
        """The RFC 9728 metadata URL for a request to `path` (what `WWW-Authenticate`
        points at): path-suffixed for `/mcp/{tenant}/{api}`, the root one otherwise."""
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "mcp" and parts[2] and parts[3]:
            return f"{self.public_url}/.well-known/oauth-protected-resource{path}"
        return f"{self.public_url}/.well-known/oauth-protected-resource"
