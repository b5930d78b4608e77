"""Rate limits and quotas per subscription, called by `/proxy` and by `/mcp` per tools/call.

`admit(grant)` answers whether a call may proceed and consumes one unit if so. Counters
are exact in one process; with Redis configured (`configure(Limiter(redis=...))`) they
are shared by every worker and replica, and while Redis cannot be reached the limiter
falls back to local counters, logs that once and exposes it as a metric.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from stoa.gateway.ratelimit.admission import Admission
from stoa.gateway.ratelimit.local import LocalLimiter
from stoa.gateway.ratelimit.redis_shared import RedisLimiter
from stoa.gateway.snapshot.compiled import Grant
from stoa.gateway.telemetry import metrics as metrics

__all__ = ["Admission", "Limiter", "admit", "configure", "limiter"]

_log = logging.getLogger("stoa.gateway.ratelimit")
_RETRY_REDIS_AFTER = 5.0


class Limiter:
    """Local counters, or Redis ones with a local fallback."""

    def __init__(self, redis: Redis | None = None) -> None:
        self.local = LocalLimiter()
        self._shared = RedisLimiter(redis) if redis is not None else None
        self._fallback_until = 0.0
        self._fallen_back = False

    @property
    def shared(self) -> bool:
        return self._shared is not None

    def admit_local(self, grant: Grant) -> Admission | None:
        """The answer without awaiting, when no Redis round trip is needed; else None."""
        if self._shared is None:
            return self.local.admit(grant)
        if self._fallen_back and time.monotonic() < self._fallback_until:
            return self.local.admit(grant)
        return None

    async def admit(self, grant: Grant) -> Admission:
        quick = self.admit_local(grant)
        if quick is not None:
            return quick
        assert self._shared is not None
        try:
            admission = await self._shared.admit(grant)
        except (RedisError, OSError) as exc:
            if not self._fallen_back:
                _log.warning(
                    "redis unreachable, rate limits are per process until it is back",
                    extra={"error": type(exc).__name__},
                )
                self._fallen_back = True
                metrics.RATELIMIT_FALLBACK.set(1)
            self._fallback_until = time.monotonic() + _RETRY_REDIS_AFTER
            return self.local.admit(grant)
        if self._fallen_back:
            _log.warning("redis reachable again, rate limits are shared")
            self._fallen_back = False
            metrics.RATELIMIT_FALLBACK.set(0)
        return admission


limiter = Limiter()


def configure(new: Limiter) -> None:
    """Make `new` the process's limiter (at start, before serving)."""
    global limiter
    limiter = new


async def admit(grant: Grant) -> Admission:
    """Whether a call under `grant` may proceed now; a rejected call consumes nothing."""
    admission = await limiter.admit(grant)
    if not admission.allowed:
        metrics.RATELIMIT_REJECTIONS.labels(grant.api.name).inc()
    return admission
