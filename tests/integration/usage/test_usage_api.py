"""`POST /v1/internal/usage` stores each batch once; `GET /v1/usage` rolls it up and shows
it only to those who may see it. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from stoa.contract.usage import SCHEMA_VERSION
from stoa.controlplane.models import Api, Application, Tool, UsageBatch, UsageEvent
from stoa.kit.ids import new_id
from support.seed_consumer import rows
from support.world import Caller, World

# Yesterday 10:00 UTC: whole minutes and one day, far from any midnight.
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
T0 = (DAY + timedelta(hours=10)).timestamp()
WINDOW = {"from": DAY.isoformat(), "to": (DAY + timedelta(days=1)).isoformat()}


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "at": T0 + 5,
        "tenant_id": "ten_provider",
        "application_id": "app_a",
        "subscription_id": "sub_a",
        "api_id": "api_weather",
        "route": "GET /forecast",
        "status": 200,
        "latency_ms": 12.0,
        "request_bytes": 10,
        "response_bytes": 100,
        **overrides,
    }


def batch(*events: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": key or uuid.uuid4().hex,
        "events": list(events),
        "origin": "test",
    }


def stored_events(world: World) -> int:
    return int(rows(world, select(func.count()).select_from(UsageEvent))[0])


def test_a_batch_posted_twice_is_stored_once(world: World) -> None:
    admin = world.platform_admin()
    body = batch(event(), event(status=500), event(route="POST /forecast"))
    first = admin.post("/v1/internal/usage", json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {"batch": body["id"], "events": 3, "duplicate": False}
    again = admin.post("/v1/internal/usage", json=body)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert stored_events(world) == 3
    report = admin.get("/v1/usage", params={**WINDOW, "granularity": "day"}).json()
    assert report["total"]["count"] == 3
    assert report["total"]["server_errors"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"schema_version": 99, "id": "abcdefgh12", "events": []}',
        b'{"schema_version": 1, "id": "bad key!", "events": []}',
    ],
)
def test_a_malformed_batch_is_refused_and_writes_nothing(world: World, body: bytes) -> None:
    admin = world.platform_admin()
    response = admin.post(
        "/v1/internal/usage", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert rows(world, select(UsageBatch)) == []


def test_a_batch_with_one_bad_event_writes_nothing(world: World) -> None:
    admin = world.platform_admin()
    for bad in ({"latency_ms": -1.0}, {"status": 1000}, {"tenant_id": ""}, {"route": "x" * 256}):
        response = admin.post("/v1/internal/usage", json=batch(event(), event(**bad)))
        assert response.status_code == 422, bad
        assert response.json()["detail"].startswith("not a valid usage batch")
    assert rows(world, select(UsageBatch)) == []
    assert stored_events(world) == 0


def test_only_a_gateway_credential_may_post_usage(world: World) -> None:
    developer = world.user("dev@consumer.test", tenant="consumer")
    assert developer.post("/v1/internal/usage", json=batch(event())).status_code == 403
    assert world.anonymous().post("/v1/internal/usage", json=batch(event())).status_code == 401
    admin = world.platform_admin()
    issued = admin.post("/v1/gateway-tokens", json={"name": "edge"}).json()
    gateway = {"authorization": f"Bearer {issued['secret']}"}
    anonymous = world.anonymous()
    body = batch(event())
    accepted = anonymous.post("/v1/internal/usage", json=body, headers=gateway)
    assert accepted.json() == {"batch": body["id"], "events": 1, "duplicate": False}
    assert admin.post(f"/v1/gateway-tokens/{issued['id']}/revoke").status_code == 200
    refused = anonymous.post("/v1/internal/usage", json=batch(event()), headers=gateway)
    assert refused.status_code == 401
    assert len(rows(world, select(UsageBatch))) == 1


def test_rollups_count_per_minute_and_day_with_latency_percentiles(world: World) -> None:
    admin = world.platform_admin()
    calls = [event(at=T0 + 1, latency_ms=float(ms)) for ms in range(1, 101)]  # 1..100 ms
    calls += [event(at=T0 + 61, status=404, request_bytes=1, response_bytes=2)]
    calls += [event(at=T0 + 62, route="toolbox__echo", api_id="api_toolbox", status=503)]
    # Split over two batches: rollup rows must add up across batches.
    assert admin.post("/v1/internal/usage", json=batch(*calls[:50])).status_code == 200
    assert admin.post("/v1/internal/usage", json=batch(*calls[50:])).status_code == 200

    minutes = admin.get("/v1/usage", params={**WINDOW, "granularity": "minute"}).json()
    by_key = {(row["bucket"], row["tool"]): row for row in minutes["items"]}
    first_minute = datetime.fromtimestamp(T0, UTC)
    second_minute = first_minute + timedelta(minutes=1)
    assert len(minutes["items"]) == 3
    first = by_key[(first_minute.isoformat().replace("+00:00", "Z"), "GET /forecast")]
    assert first["count"] == 100
    assert first["errors"] == 0
    assert first["request_bytes"] == 1000
    assert first["response_bytes"] == 10_000
    assert first["latency_ms"]["avg"] == 50.5
    # 1..100 ms in buckets ..50, ..75, ..100: p50 exactly at 50, p95 and p99 within ..100.
    assert first["latency_ms"]["p50"] == 50.0
    assert 75 < first["latency_ms"]["p95"] <= 100
    assert first["latency_ms"]["p95"] < first["latency_ms"]["p99"] <= 100
    second = by_key[(second_minute.isoformat().replace("+00:00", "Z"), "GET /forecast")]
    assert (second["count"], second["errors"], second["server_errors"]) == (1, 1, 0)

    days = admin.get("/v1/usage", params={**WINDOW, "granularity": "day"}).json()
    assert {row["tool"]: row["count"] for row in days["items"]} == {
        "GET /forecast": 101,
        "toolbox__echo": 1,
    }
    assert days["total"]["count"] == 102
    assert days["total"]["errors"] == 2
    assert days["total"]["server_errors"] == 1


def test_filters_narrow_the_rollups(world: World) -> None:
    admin = world.platform_admin()
    world.tenant("provider")
    app_id = new_id("app")
    owner = world.user("owner@consumer.test", tenant="consumer")
    world._run(Application(id=app_id, owner_id=owner.user_id, tenant_id=None, name="a"))
    calls = [
        event(application_id=app_id, subscription_id="sub_1"),
        event(application_id=app_id, subscription_id="sub_2", api_id="api_toolbox", route="t"),
        event(tenant_id=world.tenant_id("provider"), api_id="api_x", route="GET /x"),
        event(at=T0 - 86_400 * 3),  # outside the window
    ]
    assert admin.post("/v1/internal/usage", json=batch(*calls)).status_code == 200

    def count(**params: str) -> int:
        response = admin.get("/v1/usage", params={**WINDOW, "granularity": "day", **params})
        assert response.status_code == 200, response.text
        return int(response.json()["total"]["count"])

    assert count() == 3
    assert count(application=app_id) == 2
    assert count(subscription="sub_2") == 1
    assert count(api="api_x") == 1
    assert count(tool="GET /forecast") == 1
    assert count(tenant="provider") == 1
    assert count(**{"from": "2000-01-01T00:00:00Z", "to": WINDOW["from"]}) == 1
    assert admin.get("/v1/usage", params={"tenant": "nope"}).status_code == 404
    bad_range = admin.get("/v1/usage", params={"from": WINDOW["to"], "to": WINDOW["from"]})
    assert bad_range.status_code == 422
    assert admin.get("/v1/usage", params={"granularity": "hour"}).status_code == 422


def _application(world: World, owner: Caller, tenant: str) -> str:
    app_id = new_id("app")
    world._run(
        Application(id=app_id, owner_id=owner.user_id, tenant_id=world.tenant_id(tenant), name="a")
    )
    return app_id


def test_each_caller_sees_only_the_usage_they_may_see(world: World) -> None:
    admin = world.platform_admin()
    provider, other = world.tenant("provider"), world.tenant("other")
    alice = world.user("alice@consumer.test", tenant="consumer")
    bob = world.user("bob@consumer.test", tenant="consumer")
    provider_admin = world.user("admin@provider.test", tenant="provider", roles=["tenant-admin"])
    other_viewer = world.user("viewer@other.test", tenant="other", roles=["viewer"])
    alices, bobs = _application(world, alice, "consumer"), _application(world, bob, "consumer")
    calls = [
        event(tenant_id=provider, application_id=alices, api_id="api_p"),
        event(tenant_id=provider, application_id=alices, api_id="api_p"),
        event(tenant_id=other, application_id=bobs, api_id="api_o"),
    ]
    assert admin.post("/v1/internal/usage", json=batch(*calls)).status_code == 200

    def seen(caller: Caller, **params: str) -> set[tuple[str, int]]:
        response = caller.get("/v1/usage", params={**WINDOW, "granularity": "day", **params})
        assert response.status_code == 200, response.text
        return {(row["application_id"], row["count"]) for row in response.json()["items"]}

    assert seen(alice) == {(alices, 2)}
    assert seen(bob) == {(bobs, 1)}
    assert seen(provider_admin) == {(alices, 2)}
    assert seen(other_viewer) == {(bobs, 1)}
    assert seen(provider_admin, tenant="other") == set()
    assert seen(admin) == {(alices, 2), (bobs, 1)}
    # Naming someone else's application does not reveal it.
    refused = alice.get("/v1/usage", params={**WINDOW, "application": bobs})
    assert refused.status_code == 404
    assert alice.get("/v1/usage", params={**WINDOW, "application": "app_nope"}).status_code == 404


def test_the_same_batch_sent_concurrently_is_counted_once(world: World) -> None:
    admin = world.platform_admin()
    body = batch(*[event(route=f"GET /{n}") for n in range(50)])
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: admin.post("/v1/internal/usage", json=body), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True, True]
    assert stored_events(world) == 50
    report = admin.get("/v1/usage", params={**WINDOW, "granularity": "minute"}).json()
    assert report["total"]["count"] == 50


def test_rest_calls_roll_up_by_operation_and_keep_their_paths_as_events(world: World) -> None:
    admin = world.platform_admin()
    tenant_id = world.tenant("shop")
    api_id = new_id("api")
    world._run(
        Api(
            id=api_id,
            tenant_id=tenant_id,
            name="users",
            title="Users",
            kind="rest",
            backend_url="http://127.0.0.1:9",
        ),
        *(
            Tool(
                id=new_id("tool"),
                api_id=api_id,
                tenant_id=tenant_id,
                name=name,
                input_schema={"type": "object"},
                binding={"method": "GET", "path": path},
            )
            for name, path in (("getUser", "/users/{id}"), ("getMe", "/users/me"))
        ),
    )
    calls = [
        event(tenant_id=tenant_id, api_id=api_id, route=route)
        for route in ("GET /users/1", "GET /users/2", "GET /users/me", "GET /teams/1")
    ]
    assert admin.post("/v1/internal/usage", json=batch(*calls)).status_code == 200
    report = admin.get("/v1/usage", params={**WINDOW, "granularity": "day", "api": api_id})
    counts = {row["tool"]: row["count"] for row in report.json()["items"]}
    assert counts == {"getUser": 2, "getMe": 1, "GET (no operation)": 1}
    stored = rows(world, select(UsageEvent.route).where(UsageEvent.api_id == api_id))
    assert sorted(stored) == ["GET /teams/1", "GET /users/1", "GET /users/2", "GET /users/me"]
