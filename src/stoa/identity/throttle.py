"""Brute-force throttling of login attempts, per account and per client IP.

Contract:

- Before checking a password (or a TOTP / recovery code), ask `LoginThrottle.check(
  account=..., ip=...)`. It answers `Decision(allowed=True)` or
  `Decision(allowed=False, retry_after=S)`: refuse the attempt without looking at the
  credential and tell the user to retry in S seconds (HTTP `Retry-After`).
- After a wrong credential call `record_failure`; after a successful login call
  `record_success`, which forgets the account's failures (not the IP's: an attacker who
  owns one account must not be able to reset the counter of the address they guess from).
- A key (account or IP) may fail `free_failures` times freely. Each failure after that
  locks it for `base_lock_seconds`, doubling with every further failure up to
  `max_lock_seconds`, counted from the latest failure. A key with no failure for
  `forget_after_seconds` starts over. Back-off rather than a hard lock-out: an attacker
  can slow a victim's logins down but never shut them out for good.
- Unknown accounts are throttled exactly like known ones, so the answers do not reveal
  which accounts exist. Account names are hashed before they become store keys, so the
  store (Redis) holds no e-mail addresses.
- Time comes from the injected `clock` (wall-clock seconds), also with Redis, so every
  replica and every test sees the same arithmetic. Stores: `MemoryThrottleStore` (one
  process) and `RedisThrottleStore` (shared by replicas; each failure is one atomic Lua
  call).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int
    base_lock_seconds: float
    max_lock_seconds: float
    forget_after_seconds: float

    def __post_init__(self) -> None:
        if self.free_failures < 0 or self.base_lock_seconds <= 0:
            raise ValueError("free_failures must be >= 0 and base_lock_seconds > 0")
        if self.max_lock_seconds < self.base_lock_seconds:
            raise ValueError("max_lock_seconds must be at least base_lock_seconds")
        # Forgetting a key while it is still locked would end the lock early.
        if self.forget_after_seconds < self.max_lock_seconds:
            raise ValueError("forget_after_seconds must be at least max_lock_seconds")

    def lock_seconds(self, failures: int) -> float:
        """How long a key with `failures` recent failures stays locked after the last one."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        # min() before the power keeps the float finite for absurd failure counts.
        doublings = min(over - 1, 62)
        return min(self.base_lock_seconds * 2.0**doublings, self.max_lock_seconds)


# Five free tries per account, then 30 s, 1 min, 2 min ... up to 15 min between tries.
ACCOUNT_POLICY = ThrottlePolicy(
    free_failures=5, base_lock_seconds=30, max_lock_seconds=900, forget_after_seconds=3600
)
# An address may be shared (NAT, a company proxy), so it gets more room before it slows.
IP_POLICY = ThrottlePolicy(
    free_failures=20, base_lock_seconds=10, max_lock_seconds=900, forget_after_seconds=3600
)


@dataclass(frozen=True, slots=True)
class FailureRecord:
    failures: int
    last_failure_at: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds, rounded up; 0 when allowed


class ThrottleStore(Protocol):
    async def get(self, key: str) -> FailureRecord | None:
        """The key's record, or None if it has none."""
        ...

    async def add_failure(self, key: str, *, now: float, forget_after: float) -> FailureRecord:
        """Atomically count one failure at `now`, first forgetting a record whose last
        failure is more than `forget_after` seconds old; the record after the update."""
        ...

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None:
        """Release connections, at shutdown."""
        ...


class MemoryThrottleStore:
    """Records in a dict: one process only. Old records are pruned as new ones arrive."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._records: dict[str, FailureRecord] = {}
        self._max_keys = max_keys

    async def get(self, key: str) -> FailureRecord | None:
        return self._records.get(key)

    async def add_failure(self, key: str, *, now: float, forget_after: float) -> FailureRecord:
        record = self._records.get(key)
        failures = 0
        if record is not None and now - record.last_failure_at <= forget_after:
            failures = record.failures
        updated = FailureRecord(failures=failures + 1, last_failure_at=now)
        self._records[key] = updated
        if len(self._records) > self._max_keys:
            self._prune(now, forget_after)
        return updated

    async def clear(self, key: str) -> None:
        self._records.pop(key, None)

    async def close(self) -> None:
        """Nothing to release; here so both stores close alike."""

    def _prune(self, now: float, forget_after: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last_failure_at > forget_after]
        for key in stale:
            del self._records[key]
        # Under a flood of distinct keys, drop the oldest so memory stays bounded.
        excess = len(self._records) - self._max_keys
        if excess > 0:
            oldest = sorted(self._records, key=lambda k: self._records[k].last_failure_at)
            for key in oldest[:excess]:
                del self._records[key]


_ADD_FAILURE = """
local fields = redis.call('HMGET', KEYS[1], 'f', 't')
local failures = tonumber(fields[1]) or 0
local last = tonumber(fields[2]) or 0
if failures > 0 and tonumber(ARGV[1]) - last > tonumber(ARGV[2]) then
  failures = 0
end
failures = failures + 1
redis.call('HSET', KEYS[1], 'f', failures, 't', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return failures
"""


class RedisThrottleStore:
    """Records in Redis hashes (`f` failures, `t` last failure time), shared by replicas.

    Keys expire on their own once they would be forgotten anyway.
    """

    def __init__(self, redis: Redis, *, prefix: str = "stoa:login-throttle:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._add_failure = redis.register_script(_ADD_FAILURE)

    async def get(self, key: str) -> FailureRecord | None:
        failures, last = await self._redis.hmget(self._prefix + key, ["f", "t"])
        if failures is None or last is None:
            return None
        return FailureRecord(failures=int(failures), last_failure_at=float(last))

    async def add_failure(self, key: str, *, now: float, forget_after: float) -> FailureRecord:
        ttl = math.ceil(forget_after) + 1
        # repr() keeps the float exact; Lua reads it back with tonumber.
        failures = await self._add_failure(
            keys=[self._prefix + key], args=[repr(now), repr(forget_after), ttl]
        )
        return FailureRecord(failures=int(failures), last_failure_at=now)

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


def throttle_store(redis_url: str | None) -> ThrottleStore:
    """The store for a deployment: Redis when `STOA_REDIS_URL` is set, so every replica
    counts the same failures; otherwise in memory. The Redis client connects lazily; the
    caller closes it (`store.close()`) at shutdown."""
    if redis_url is None:
        return MemoryThrottleStore()
    return RedisThrottleStore(Redis.from_url(redis_url))


def account_key(account: str) -> str:
    """The store key of a login name: hashed, case and surrounding spaces ignored."""
    digest = hashlib.sha256(account.strip().lower().encode()).hexdigest()
    return f"account:{digest}"


def ip_key(ip: str) -> str:
    return f"ip:{ip}"


class LoginThrottle:
    """Answers whether a login attempt may go ahead, and learns from its outcome."""

    def __init__(
        self,
        store: ThrottleStore,
        *,
        account_policy: ThrottlePolicy = ACCOUNT_POLICY,
        ip_policy: ThrottlePolicy = IP_POLICY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._account_policy = account_policy
        self._ip_policy = ip_policy
        self._clock = clock

    def _keys(self, account: str, ip: str | None) -> list[tuple[str, ThrottlePolicy]]:
        keys = [(account_key(account), self._account_policy)]
        if ip:
            keys.append((ip_key(ip), self._ip_policy))
        return keys

    def _wait(self, record: FailureRecord | None, policy: ThrottlePolicy, now: float) -> float:
        if record is None or now - record.last_failure_at > policy.forget_after_seconds:
            return 0.0
        return record.last_failure_at + policy.lock_seconds(record.failures) - now

    def _decision(self, wait: float) -> Decision:
        if wait <= 0:
            return Decision(allowed=True)
        return Decision(allowed=False, retry_after=max(1, math.ceil(wait)))

    async def check(self, *, account: str, ip: str | None) -> Decision:
        """Whether an attempt for `account` from `ip` may be checked now."""
        now = self._clock()
        wait = 0.0
        for key, policy in self._keys(account, ip):
            wait = max(wait, self._wait(await self._store.get(key), policy, now))
        return self._decision(wait)

    async def record_failure(self, *, account: str, ip: str | None) -> Decision:
        """Count a failed attempt; the answer is what `check` will say right after."""
        now = self._clock()
        wait = 0.0
        for key, policy in self._keys(account, ip):
            record = await self._store.add_failure(
                key, now=now, forget_after=policy.forget_after_seconds
            )
            wait = max(wait, self._wait(record, policy, now))
        return self._decision(wait)

    async def record_success(self, *, account: str, ip: str | None) -> None:
        """Forget the account's failures; the IP's stay (see the module docstring)."""
        await self._store.clear(account_key(account))
