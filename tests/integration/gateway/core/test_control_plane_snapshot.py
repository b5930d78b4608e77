"""A gateway that loads its snapshot from a real control plane, at start and on SIGHUP."""

from __future__ import annotations

from pathlib import Path

import httpx
from gateway_world import GatewayProcess
from synced_gateways import seed

from conftest import Upstreams
from stoa.controlplane.models import ApiKey
from stoa.kit.api_key import generate_key
from stoa.kit.ids import new_id
from stoa.kit.platform_secrets import load_platform_secrets
from support.servers import free_port
from support.world import World


def test_gateway_serves_the_control_planes_snapshot_and_reloads_on_sighup(
    world: World, upstreams: Upstreams, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    gateway = GatewayProcess(
        None,
        free_port(),
        env={
            "STOA_CONTROL_PLANE_URL": world.base_url,
            "STOA_GATEWAY_TOKEN": setup.admin.token,
            "STOA_DATA_DIR": str(tmp_path),
        },
    ).wait_ready()
    try:
        url = gateway.url + setup.url
        response = httpx.get(url, headers={"x-api-key": setup.key})
        assert response.status_code == 200
        assert response.json()["path"] == "/hello"
        # Written straight into the database: no audited change, so only SIGHUP's fetch
        # brings it to the gateway.
        second = generate_key(load_platform_secrets(world.settings).key_hash_secret)
        world._run(
            ApiKey(
                id=new_id("key"),
                application_id=setup.app_id,
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
