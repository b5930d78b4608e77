"""The gateway snapshot holds exactly what is live, and changes when the config does."""

from __future__ import annotations

from datetime import timedelta

from stoa.contract.snapshot import content_hash, decode_snapshot
from stoa.contract.sync import HASH_HEADER as HASH
from stoa.contract.sync import WANTED_HEADER as WANTED
from stoa.controlplane.models import Api, ApiKey, Application, Plan, Subscription, Tool
from stoa.controlplane.models.base import utcnow
from stoa.kit.api_key import generate_key
from stoa.kit.crypto import SecretBox
from stoa.kit.ids import new_id
from stoa.kit.platform_secrets import load_platform_secrets
from support.world import World


def _provider_with_consumer(world: World, *, lifecycle: str = "published") -> dict[str, str]:
    """Tenant `provider` publishes `weather`; a developer of tenant `consumer` subscribes."""
    secrets = load_platform_secrets(world.settings)
    provider, consumer = world.tenant("provider"), world.tenant("consumer")
    developer = world.user("dev@consumer.test", tenant="consumer")
    api_id, plan_id, app_id = new_id("api"), new_id("pln"), new_id("app")
    key = generate_key(secrets.key_hash_secret)
    world._run(
        Api(
            id=api_id,
            tenant_id=provider,
            name="weather",
            title="Weather",
            kind="rest",
            visibility="public",
            lifecycle=lifecycle,
            backend_url="http://127.0.0.1:9",
            upstream_auth_location="header",
            upstream_auth_name="x-upstream-key",
            upstream_auth_secret=SecretBox(secrets.master_key).encrypt("hunter2", context=api_id),
        ),
        Tool(
            id=new_id("tool"),
            api_id=api_id,
            tenant_id=provider,
            name="getForecast",
            input_schema={"type": "object"},
            annotations={"readOnlyHint": True},
        ),
        Tool(
            id=new_id("tool"),
            api_id=api_id,
            tenant_id=provider,
            name="disabledOne",
            input_schema={"type": "object"},
            enabled=False,
        ),
        Plan(id=plan_id, tenant_id=provider, name="gold", rate_per_second=5.0, burst=10),
        Application(id=app_id, owner_id=developer.user_id, tenant_id=consumer, name="app"),
        Subscription(
            id=new_id("sub"),
            application_id=app_id,
            api_id=api_id,
            plan_id=plan_id,
            tenant_id=provider,
            status="active",
        ),
        ApiKey(
            id=new_id("key"), application_id=app_id, name="k", prefix=key.prefix, digest=key.digest
        ),
        ApiKey(
            id=new_id("key"),
            application_id=app_id,
            name="old",
            prefix="stoa_sk_old",
            digest="0" * 64,
            expires_at=utcnow() - timedelta(minutes=1),
        ),
    )
    return {"api": api_id, "app": app_id, "digest": key.digest, "secret": key.secret}


def test_snapshot_carries_live_config_and_no_key_secrets(world: World) -> None:
    ids = _provider_with_consumer(world)
    admin = world.platform_admin()
    response = admin.get("/v1/snapshot")
    assert response.status_code == 200
    assert response.headers["x-stoa-snapshot-hash"] in response.headers["etag"]
    snapshot = decode_snapshot(response.content)

    [api] = snapshot.apis
    assert (api.tenant, api.name, api.upstream_url) == ("provider", "weather", "http://127.0.0.1:9")
    assert [tool.name for tool in api.tools] == ["getForecast"]
    assert api.upstream_auth is not None
    assert api.upstream_auth.value == "hunter2"
    assert [key.digest for key in snapshot.keys] == [ids["digest"]]  # expired key left out
    assert ids["secret"] not in response.text
    assert [s.api_id for s in snapshot.subscriptions] == [ids["api"]]
    assert [p.name for p in snapshot.plans] == ["gold"]


def test_suspending_a_tenant_removes_its_apis_and_its_consumers_keys(world: World) -> None:
    _provider_with_consumer(world)
    admin = world.platform_admin()
    before = admin.get("/v1/snapshot")

    admin.patch("/v1/tenants/consumer", json={"status": "suspended"})
    consumer_suspended = decode_snapshot(admin.get("/v1/snapshot").content)
    assert consumer_suspended.keys == []
    assert consumer_suspended.subscriptions == []
    assert [api.name for api in consumer_suspended.apis] == ["weather"]

    admin.patch("/v1/tenants/consumer", json={"status": "active"})
    admin.patch("/v1/tenants/provider", json={"status": "suspended"})
    provider_suspended = decode_snapshot(admin.get("/v1/snapshot").content)
    assert provider_suspended.apis == []
    assert provider_suspended.subscriptions == []

    admin.patch("/v1/tenants/provider", json={"status": "active"})
    restored = admin.get("/v1/snapshot")
    assert restored.headers["x-stoa-snapshot-hash"] == before.headers["x-stoa-snapshot-hash"]


def test_draft_apis_are_not_served(world: World) -> None:
    _provider_with_consumer(world, lifecycle="draft")
    snapshot = decode_snapshot(world.platform_admin().get("/v1/snapshot").content)
    assert snapshot.apis == []
    assert snapshot.subscriptions == []


def test_only_platform_admins_read_the_snapshot(world: World) -> None:
    tenant_admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    assert tenant_admin.get("/v1/snapshot").status_code == 403
    assert world.anonymous().get("/v1/snapshot").status_code == 401


def test_snapshot_travels_gzip_compressed_when_the_client_accepts_it(world: World) -> None:
    _provider_with_consumer(world)
    admin = world.platform_admin()
    compressed = admin.get("/v1/snapshot", headers={"accept-encoding": "gzip"})
    plain = admin.get("/v1/snapshot", headers={"accept-encoding": "identity"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    digest = plain.headers["x-stoa-snapshot-hash"]
    assert compressed.headers["x-stoa-snapshot-hash"] == digest
    assert content_hash(decode_snapshot(compressed.content)) == digest  # httpx inflated it
    assert content_hash(decode_snapshot(plain.content)) == digest


def test_naming_an_announced_hash_never_yields_a_snapshot_older_than_the_last_change(
    world: World,
) -> None:
    _provider_with_consumer(world)
    admin = world.platform_admin()
    announced = admin.get("/v1/snapshot/hash").json()["hash"]
    assert admin.get("/v1/snapshot", headers={WANTED: announced}).headers[HASH] == announced

    admin.patch("/v1/tenants/consumer", json={"status": "suspended"})
    after_change = admin.get("/v1/snapshot", headers={WANTED: announced})
    assert after_change.headers[HASH] != announced
    assert decode_snapshot(after_change.content).keys == []
    assert admin.get("/v1/snapshot/hash").json()["hash"] == after_change.headers[HASH]
