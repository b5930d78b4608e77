"""A gateway that loads its snapshot from a real control plane, at start and on SIGHUP."""

from __future__ import annotations

from pathlib import Path

import httpx
from gateway_world import GatewayProcess

from conftest import Upstreams
from stoa.controlplane.models import Api, ApiKey, Application, Plan, Subscription
from stoa.kit.api_key import generate_key
from stoa.kit.ids import new_id
from stoa.kit.platform_secrets import load_platform_secrets
from support.servers import free_port
from support.world import World


def test_gateway_serves_the_control_planes_snapshot_and_reloads_on_sighup(
    world: World, upstreams: Upstreams, tmp_path: Path
) -> None:
    secrets = load_platform_secrets(world.settings)
    provider, consumer = world.tenant("provider"), world.tenant("consumer")
    developer = world.user("dev@consumer.test", tenant="consumer")
    api_id, plan_id, app_id = new_id("api"), new_id("pln"), new_id("app")
    first = generate_key(secrets.key_hash_secret)
    world._run(
        Api(
            id=api_id,
            tenant_id=provider,
            name="echo",
            title="Echo",
            kind="rest",
            visibility="public",
            lifecycle="published",
            backend_url=upstreams.echo.url,
        ),
        Plan(id=plan_id, tenant_id=provider, name="gold", per_minute=100),
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
            id=new_id("key"),
            application_id=app_id,
            name="k",
            prefix=first.prefix,
            digest=first.digest,
        ),
    )
    gateway = GatewayProcess(
        None,
        free_port(),
        env={
            "STOA_CONTROL_PLANE_URL": world.base_url,
            "STOA_GATEWAY_TOKEN": world.platform_admin().token,
            "STOA_DATA_DIR": str(tmp_path),
        },
    ).wait_ready()
    try:
        url = f"{gateway.url}/proxy/provider/echo/hello"
        response = httpx.get(url, headers={"x-api-key": first.secret})
        assert response.status_code == 200
        assert response.json()["path"] == "/hello"
        second = generate_key(secrets.key_hash_secret)
        world._run(
            ApiKey(
                id=new_id("key"),
                application_id=app_id,
                name="k2",
                prefix=second.prefix,
                digest=second.digest,
            )
        )
        assert httpx.get(url, headers={"x-api-key": second.secret}).status_code == 401
        gateway.reload()
        assert httpx.get(url, headers={"x-api-key": second.secret}).status_code == 200
    finally:
        gateway.stop()


def test_gateway_without_a_snapshot_source_refuses_to_start(world: World, tmp_path: Path) -> None:
    gateway = GatewayProcess(
        None,
        free_port(),
        env={
            "STOA_CONTROL_PLANE_URL": world.base_url,
            "STOA_GATEWAY_TOKEN": "not-a-token",
            "STOA_DATA_DIR": str(tmp_path),
        },
    )
    assert gateway.process.wait(timeout=60) == 1
    assert "answered 401" in gateway.stop()
