"""Limits shared through Redis by every worker, and the local fallback when Redis is away."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from gateway_world import GatewayProcess, SnapshotSpec
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError

from conftest import StartGateway, Upstreams
from stoa.contract.snapshot import PlanEntry
from stoa.gateway.ratelimit.redis_shared import RedisLimiter
from support.limiter_grant import grant_for
from support.redis_server import redis_server
from support.servers import free_port

REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def redis_db() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


def test_two_workers_share_one_limit(
    start_gateway: StartGateway, upstreams: Upstreams, redis_db: Redis
) -> None:
    spec: SnapshotSpec = upstreams.spec()
    assert spec.keys is not None
    spec.plan = PlanEntry(id="pln_gold", tenant_id="ten_demo", name="gold", per_minute=5)
    # A generous Redis timeout: on a loaded machine 0.5 s can pass, and a worker that
    # falls back to local limits would count on its own.
    env = {"STOA_REDIS_URL": REDIS_URL, "STOA_GATEWAY__REDIS_TIMEOUT_SECONDS": "5"}
    gateway = start_gateway(spec, workers=2, env=env)
    statuses = []
    for _ in range(12):
        # A new connection each time, so the kernel spreads them over both workers.
        with httpx.Client() as client:
            statuses.append(
                client.get(
                    f"{gateway.url}/proxy/demo/echo/x", headers={"x-api-key": spec.keys.good}
                ).status_code
            )
    assert statuses.count(200) == 5
    assert statuses.count(429) == 7
    assert redis_db.keys("stoa:rl:{sub_echo}:m*")


def test_gateway_keeps_serving_with_local_limits_when_redis_is_down(
    start_gateway: StartGateway, upstreams: Upstreams
) -> None:
    spec: SnapshotSpec = upstreams.spec()
    assert spec.keys is not None
    spec.plan = PlanEntry(id="pln_gold", tenant_id="ten_demo", name="gold", per_minute=3)
    gateway = start_gateway(spec, env={"STOA_REDIS_URL": "redis://127.0.0.1:1/0"})
    url = f"{gateway.url}/proxy/demo/echo/x"
    statuses = [
        httpx.get(url, headers={"x-api-key": spec.keys.good}, timeout=10).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert "stoa_gateway_ratelimit_local_fallback 1.0" in metrics
    output = gateway.stop()
    assert output.count("redis unreachable") == 1


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_redis_stopped_under_load_costs_no_call_and_both_gateways_share_limits_again(
    start_gateway: StartGateway, upstreams: Upstreams, tmp_path: Path
) -> None:
    spec: SnapshotSpec = upstreams.spec()
    assert spec.keys is not None
    key = spec.keys.good
    limit = 100_000
    spec.plan = PlanEntry(id="pln_gold", tenant_id="ten_demo", name="gold", per_minute=limit)
    port = free_port()
    server = redis_server(port, tmp_path)
    client = Redis(port=port)
    env = {"STOA_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    fleet = [start_gateway(spec, env=env) for _ in range(2)]
    statuses: dict[str, list[int]] = {gateway.url: [] for gateway in fleet}
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10, headers={"x-api-key": key}) as http:
            while not stop.is_set():
                for gateway in fleet:
                    response = http.get(f"{gateway.url}/proxy/demo/echo/x")
                    statuses[gateway.url].append(response.status_code)

    def shared_counts() -> bool:
        try:
            return bool(client.keys("stoa:rl:{sub_echo}:m*"))
        except RedisConnectionError:
            return False

    def served_by_each() -> list[int]:
        return [len(answers) for answers in statuses.values()]

    loader = threading.Thread(target=load)
    loader.start()
    try:
        _wait_for(shared_counts, "calls counted in Redis")
        server.terminate()
        server.wait(timeout=10)
        before = served_by_each()

        def both_served_more() -> bool:
            return all(now > then + 50 for now, then in zip(served_by_each(), before, strict=True))

        _wait_for(both_served_more, "calls to both gateways while Redis is down")
        for gateway in fleet:  # each counts locally meanwhile
            metrics = httpx.get(f"{gateway.url}/metrics").text
            assert "stoa_gateway_ratelimit_local_fallback 1.0" in metrics
        server = redis_server(port, tmp_path)  # an empty Redis on the same address
        _wait_for(shared_counts, "calls counted in Redis again")
    finally:
        stop.set()
        loader.join(timeout=30)
    try:
        assert all(set(answers) == {200} for answers in statuses.values()), statuses

        # Spend the shared count of this minute and the next: a gateway that counts in
        # Redis again refuses, one still counting locally would not.
        now = time.time()
        for start in (now - now % 60, now - now % 60 + 60):
            client.set(f"stoa:rl:{{sub_echo}}:m{int(start)}", limit, ex=180)

        def refused(gateway: GatewayProcess) -> bool:
            url = f"{gateway.url}/proxy/demo/echo/x"
            return httpx.get(url, headers={"x-api-key": key}, timeout=10).status_code == 429

        for gateway in fleet:
            _wait_for(lambda gateway=gateway: refused(gateway), f"{gateway.url} counts in Redis")
    finally:
        server.terminate()
        server.wait(timeout=10)
    for gateway in fleet:
        output = gateway.stop()
        assert output.count("redis unreachable") == 1
        assert "redis reachable again" in output


def test_redis_script_checks_everything_before_consuming(redis_db: Redis) -> None:
    plan = PlanEntry(id="p", tenant_id="t", name="p", per_minute=2, per_day=3)
    grant = grant_for(plan, "sub_script")

    async def run() -> list[tuple[bool, int | None]]:
        client = AsyncRedis.from_url(REDIS_URL)
        try:
            limiter = RedisLimiter(client)
            answers = [await limiter.admit(grant) for _ in range(5)]
        finally:
            await client.aclose()
        return [(answer.allowed, answer.remaining) for answer in answers]

    assert asyncio.run(run()) == [(True, 1), (True, 0), (False, 0), (False, 0), (False, 0)]
    (day_key,) = redis_db.keys("stoa:rl:{sub_script}:d*")
    assert redis_db.get(day_key) == b"2"
