"""Login throttling shared through a real Redis: two replicas see the same counters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from stoa.identity.throttle import (
    Decision,
    LoginThrottle,
    MemoryThrottleStore,
    RedisThrottleStore,
    ThrottlePolicy,
    account_key,
    throttle_store,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
POLICY = ThrottlePolicy(
    free_failures=2, base_lock_seconds=10, max_lock_seconds=80, forget_after_seconds=100
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.25

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:throttle:{uuid.uuid4().hex}:"


def _replica(redis: Redis, prefix: str, clock: Clock) -> LoginThrottle:
    return LoginThrottle(
        RedisThrottleStore(redis, prefix=prefix),
        account_policy=POLICY,
        ip_policy=POLICY,
        clock=clock,
    )


@pytest.mark.anyio
async def test_failures_on_one_replica_lock_the_account_on_another(
    redis: Redis, prefix: str
) -> None:
    clock = Clock()
    first, second = _replica(redis, prefix, clock), _replica(redis, prefix, clock)
    await first.record_failure(account="a@x", ip=None)
    await second.record_failure(account="a@x", ip=None)
    assert await first.record_failure(account="a@x", ip=None) == Decision(False, 10)
    assert await second.check(account="a@x", ip=None) == Decision(False, 10)
    clock.now += 10
    assert (await second.check(account="a@x", ip=None)).allowed
    assert await second.record_failure(account="a@x", ip=None) == Decision(False, 20)
    await first.record_success(account="a@x", ip=None)
    assert (await second.check(account="a@x", ip=None)).allowed


@pytest.mark.anyio
async def test_redis_keys_hold_no_account_names_and_expire(redis: Redis, prefix: str) -> None:
    throttle = _replica(redis, prefix, Clock())
    await throttle.record_failure(account="secret.person@example.com", ip="192.0.2.7")
    keys = sorted(k.decode() for k in await redis.keys(prefix + "*"))
    assert len(keys) == 2
    assert all("secret.person" not in k for k in keys)
    assert any(k.endswith("ip:192.0.2.7") for k in keys)
    for key in keys:
        assert 0 < await redis.ttl(key) <= 101
    await redis.delete(*keys)


@pytest.mark.anyio
async def test_old_failures_are_forgotten_by_the_redis_store(redis: Redis, prefix: str) -> None:
    clock = Clock()
    throttle = _replica(redis, prefix, clock)
    for _ in range(3):
        await throttle.record_failure(account="a@x", ip=None)
    clock.now += 150
    assert await throttle.record_failure(account="a@x", ip=None) == Decision(True)
    await redis.delete(*await redis.keys(prefix + "*"))


@pytest.mark.anyio
async def test_a_configured_redis_url_gives_a_shared_store(redis: Redis, prefix: str) -> None:
    store = throttle_store(REDIS_URL)
    assert isinstance(store, RedisThrottleStore)
    try:
        other = LoginThrottle(store, account_policy=POLICY, ip_policy=POLICY, clock=Clock())
        await other.record_failure(account="shared@x", ip=None)
        key = account_key("shared@x")
        assert await redis.hget(f"stoa:login-throttle:{key}", "f") == b"1"
    finally:
        await redis.delete(f"stoa:login-throttle:{account_key('shared@x')}")
        await store.close()
    assert isinstance(throttle_store(None), MemoryThrottleStore)
