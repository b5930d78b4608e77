"""Limits shared by every worker and replica: the same algorithm as `local`, in one
atomic Redis script per call."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from stoa.gateway.ratelimit.admission import UNLIMITED, Admission, bucket_of, windows
from stoa.gateway.snapshot.compiled import Grant

# KEYS[1] is the bucket, KEYS[2..] the window counters. ARGV: now, rate, capacity (0: no
# bucket), then limit and end (Unix seconds) of each window. Every limit is checked before
# anything is consumed, so a rejected call costs nothing. Fractions travel as strings:
# Redis truncates Lua numbers to integers in replies.
_SCRIPT = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local tokens = 0
local limit, remaining, reset = -1, -1, -1
if capacity > 0 then
  local state = redis.call('HMGET', KEYS[1], 't', 'a')
  local held = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  tokens = held
  if now > at then tokens = math.min(capacity, held + (now - at) * rate) end
  if tokens < 1 then
    local wait = (1 - tokens) / rate
    return {0, tostring(wait), capacity, 0, tostring(wait)}
  end
  limit, remaining, reset = capacity, math.floor(tokens - 1), (capacity - tokens + 1) / rate
end
for i = 2, #KEYS do
  local cap = tonumber(ARGV[2 * i])
  local ends = tonumber(ARGV[2 * i + 1])
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= cap then
    return {0, tostring(ends - now), cap, 0, tostring(ends - now)}
  end
  if remaining < 0 or cap - used - 1 < remaining then
    limit, remaining, reset = cap, cap - used - 1, ends - now
  end
end
if capacity > 0 then
  redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'a', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
end
for i = 2, #KEYS do
  if redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIREAT', KEYS[i], math.ceil(tonumber(ARGV[2 * i + 1]) * 1000) + 1000)
  end
end
return {1, '0', limit, remaining, tostring(reset)}
"""


class RedisLimiter:
    """Shared counters. Raises `redis.exceptions.RedisError` or `OSError` when Redis
    cannot answer; the caller decides what to do then."""

    def __init__(self, client: Redis, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._script = client.register_script(_SCRIPT)

    async def admit(self, grant: Grant) -> Admission:
        plan = grant.plan
        bucket = bucket_of(plan)
        now = self._clock()
        current = windows(plan, now)
        if bucket is None and not current:
            return UNLIMITED
        # One hash tag per subscription keeps every key of a call in one cluster slot.
        prefix = f"stoa:rl:{{{grant.subscription_id}}}"
        keys = [f"{prefix}:b"] + [f"{prefix}:{window.name}" for window in current]
        args: list[Any] = [
            repr(now),
            repr(bucket[0]) if bucket else "0",
            repr(bucket[1]) if bucket else "0",
        ]
        for window in current:
            args += [window.limit, repr(window.end)]
        reply = await self._script(keys=keys, args=args)
        allowed, retry_after, limit, remaining, reset = reply
        if int(limit) < 0:
            return UNLIMITED
        return Admission(
            allowed=bool(int(allowed)),
            retry_after=float(retry_after),
            limit=int(limit),
            remaining=int(remaining),
            reset=float(reset),
        )
