"""One gateway worker: its snapshot, pools, limiter and listening socket, in one event loop.

`start_worker` is used by `stoa gateway` (one per process, the port shared with
SO_REUSEPORT) and by `stoa up` (in the control plane's own event loop).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from redis.asyncio import Redis

from stoa.contract.snapshot import Snapshot
from stoa.gateway import ratelimit
from stoa.gateway.auth.bearer import BearerAuthenticator
from stoa.gateway.context import GatewayContext
from stoa.gateway.handler import GatewayHandler
from stoa.gateway.http.idle import IdleReaper
from stoa.gateway.http.server import HttpConnection
from stoa.gateway.mcp.endpoint import McpEndpoint
from stoa.gateway.proxy.breaker import Breakers
from stoa.gateway.proxy.pool import UpstreamPool
from stoa.gateway.snapshot.holder import SnapshotHolder
from stoa.gateway.telemetry.access_log import AccessLog
from stoa.gateway.telemetry.flush import PeriodicFlush
from stoa.gateway.usage.shipper import UsageShipper
from stoa.kit.settings import Settings

_log = logging.getLogger("stoa.gateway")


@dataclass(slots=True)
class Worker:
    context: GatewayContext
    server: asyncio.Server
    access_log: AccessLog
    bearer: BearerAuthenticator
    mcp: McpEndpoint
    redis: Redis | None
    flusher: PeriodicFlush
    reaper: IdleReaper
    shipper: UsageShipper | None = None

    def install(self, snapshot: Snapshot, digest: str | None = None) -> None:
        """Serve `snapshot` from now on (compiled first: a bad one leaves the old in place).
        `digest`: its content hash, if already verified."""
        self.context.holder.install(snapshot, digest)

    async def close(self) -> None:
        self.flusher.stop()
        self.reaper.stop()
        self.server.close()
        await self.server.wait_closed()
        self.context.upstreams.close()
        await self.mcp.close()
        await self.bearer.close()
        if self.shipper is not None:
            await self.shipper.close()
        if self.redis is not None:
            await self.redis.aclose()
        self.access_log.flush()


def metrics_source(multiprocess_dir: str | None) -> bytes:
    if multiprocess_dir is None:
        return generate_latest(REGISTRY)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


async def start_worker(
    settings: Settings,
    snapshot: Snapshot | None,
    *,
    host: str,
    port: int,
    reuse_port: bool = False,
    multiprocess_dir: str | None = None,
) -> Worker:
    """Build the worker and start listening. With `snapshot` None, /readyz says 503 and
    calls are refused until one is installed."""
    holder = SnapshotHolder()
    if snapshot is not None:
        holder.install(snapshot)
    gateway = settings.gateway
    pool = UpstreamPool(
        connect_timeout=gateway.connect_timeout_seconds,
        breakers=Breakers(gateway.breaker_failures, gateway.breaker_cooldown_seconds),
    )
    context = GatewayContext(settings=settings, holder=holder, upstreams=pool)
    redis: Redis | None = None
    if settings.redis_url:
        wait = settings.gateway.redis_timeout_seconds
        redis = Redis.from_url(settings.redis_url, socket_timeout=wait, socket_connect_timeout=wait)
    ratelimit.configure(ratelimit.Limiter(redis))
    bearer = BearerAuthenticator(
        issuer=settings.issuer,
        audience=settings.gateway_public_url.rstrip("/"),
        jwks_cache_seconds=settings.auth.jwks_cache_seconds,
        leeway_seconds=settings.auth.clock_skew_seconds,
    )
    mcp = McpEndpoint(context)
    access_log = AccessLog(gateway.access_log)
    handler = GatewayHandler(
        context,
        bearer=bearer,
        access_log=access_log,
        metrics_source=lambda: metrics_source(multiprocess_dir),
        mcp=mcp,
    )
    loop = asyncio.get_running_loop()
    reaper = IdleReaper()
    server = await loop.create_server(
        lambda: HttpConnection(handler, reaper),
        host,
        port,
        reuse_port=reuse_port or None,
        backlog=4096,
    )
    reaper.start()
    flusher = PeriodicFlush()
    flusher.start()
    # Usage goes to a control plane only when the gateway has a token for one.
    shipper = UsageShipper.start(settings) if settings.gateway_token is not None else None
    return Worker(context, server, access_log, bearer, mcp, redis, flusher, reaper, shipper)
