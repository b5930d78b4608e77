"""`stoa gateway` kept current by a real control plane: changes arrive within about a
second, a revoked gateway token cuts the config off, the disk copy carries a restart
through an outage, and what cannot be served (a damaged copy, a snapshot the compiler
refuses) is not served."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from sqlalchemy import update
from synced_gateways import (
    Gateways,
    all_workers_answer,
    answers,
    eventually,
    gateway_token,
    seed,
    served_hash,
    status,
)

from conftest import Upstreams
from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.models import Api
from support.servers import free_port
from support.world import World


def test_changes_made_through_the_api_reach_a_running_gateway(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    token = gateway_token(setup.admin)
    gateway = gateways.start(token["secret"], data_dir=tmp_path / "gw")
    assert status(gateway, setup.key, setup.url) == 200
    assert status(gateway, setup.other_key, setup.url) == 200

    revoked = setup.developer.post(f"/v1/applications/{setup.app_id}/keys/{setup.key_id}/revoke")
    assert revoked.status_code == 200
    eventually(
        lambda: all_workers_answer(gateway, setup.key, setup.url, 401),
        "the revoked key is refused by every worker",
    )
    assert status(gateway, setup.other_key, setup.url) == 200

    other_subscription = next(
        s
        for s in setup.provider_admin.get("/v1/subscriptions", params={"limit": 200}).json()[
            "items"
        ]
        if s["id"] != setup.subscription_id
    )
    suspended = setup.provider_admin.post(f"/v1/subscriptions/{other_subscription['id']}/suspend")
    assert suspended.status_code == 200, suspended.text
    eventually(
        lambda: all_workers_answer(gateway, setup.other_key, setup.url, 403),
        "the suspended subscription is refused by every worker",
    )

    def fleet_in_sync() -> bool:
        items = setup.admin.get("/v1/gateways").json()["items"]
        return [(g["name"], g["status"], g["served_hash"]) for g in items] == [
            ("edge-0", "in_sync", served_hash(gateway))
        ]

    eventually(fleet_in_sync, "/v1/gateways shows the gateway in sync")


def test_revocation_suspensions_and_a_lowered_limit_reach_both_gateways_of_a_fleet(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    consumer = world.tenant_id("consumer")
    silver = setup.plan("silver")  # no limit yet
    limited = setup.subscriber(setup.developer, consumer, silver, "limited")
    witness = setup.subscriber(setup.developer, consumer, setup.plan_id, "witness")
    outsider = world.user("dev@elsewhere.test", tenant="elsewhere")
    elsewhere = setup.subscriber(outsider, world.tenant_id("elsewhere"), setup.plan_id, "far")
    tokens = [gateway_token(setup.admin, f"edge-{n}")["secret"] for n in range(2)]
    fleet = [gateways.start(token, data_dir=tmp_path / f"gw{n}") for n, token in enumerate(tokens)]

    def everywhere(key: str, expected: int, what: str) -> None:
        for gateway in fleet:
            eventually(
                lambda gateway=gateway: all_workers_answer(gateway, key, setup.url, expected),
                f"{what}, on every worker of {gateway.url}",
            )

    for key in (setup.key, setup.other_key, limited, witness, elsewhere):
        everywhere(key, 200, "every key is served")

    revoked = setup.developer.post(f"/v1/applications/{setup.app_id}/keys/{setup.key_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    everywhere(setup.key, 401, "the revoked key is refused")
    everywhere(setup.other_key, 200, "another key of the same plan is served")

    suspended = setup.provider_admin.post(
        f"/v1/subscriptions/{setup.other_subscription_id}/suspend"
    )
    assert suspended.status_code == 200, suspended.text
    everywhere(setup.other_key, 403, "the suspended subscription is refused")
    everywhere(witness, 200, "another subscription to the same API is served")

    lowered = setup.provider_admin.patch(
        "/v1/tenants/provider/plans/silver", json={"per_minute": 3}
    )
    assert lowered.status_code == 200, lowered.text
    # Each worker counts 3 calls a minute at most (no Redis here), so once the limit is
    # in force every run of 12 calls ends up refused.
    everywhere(limited, 429, "calls over silver's new limit are refused")
    everywhere(witness, 200, "gold's subscribers are not limited")

    tenant = setup.admin.patch("/v1/tenants/elsewhere", json={"status": "suspended"})
    assert tenant.status_code == 200, tenant.text
    everywhere(elsewhere, 401, "the keys of a suspended consumer tenant are refused")
    everywhere(witness, 200, "other tenants' keys are served")

    tenant = setup.admin.patch("/v1/tenants/provider", json={"status": "suspended"})
    assert tenant.status_code == 200, tenant.text
    everywhere(witness, 404, "a suspended provider's API is not served")


def test_revoked_gateway_token_gets_no_more_config(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    token = gateway_token(setup.admin)
    gateway = gateways.start(token["secret"], data_dir=tmp_path / "gw")
    served = served_hash(gateway)
    assert setup.admin.post(f"/v1/gateway-tokens/{token['id']}/revoke").status_code == 200

    setup.developer.post(
        f"/v1/applications/{setup.app_id}/keys/{setup.key_id}/revoke"
    ).raise_for_status()

    def fleet_says_behind() -> bool:
        items = setup.admin.get("/v1/gateways").json()["items"]
        return [g["status"] for g in items] == ["behind"]

    eventually(fleet_says_behind, "/v1/gateways shows the cut-off gateway behind")
    # The gateway keeps serving what it had, and nothing newer reaches it, even when it
    # asks at once (SIGHUP fetches now).
    gateway.process.send_signal(1)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        assert served_hash(gateway) == served
        assert status(gateway, setup.key, setup.url) == 200
        time.sleep(0.2)
    assert "answered 401" in gateway.stop()


def test_gateway_that_cannot_write_its_disk_copy_still_applies_changes(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    token = gateway_token(setup.admin)
    data_dir = tmp_path / "gw"
    gateway = gateways.start(token["secret"], data_dir=data_dir)
    # A directory where the copy goes: replacing it fails, as on a full or broken disk
    # (and, unlike file modes, even for root).
    copy = data_dir / "synced-snapshot"
    copy.unlink()
    (copy / "in-the-way").mkdir(parents=True)

    revoked = setup.developer.post(f"/v1/applications/{setup.app_id}/keys/{setup.key_id}/revoke")
    assert revoked.status_code == 200
    eventually(
        lambda: all_workers_answer(gateway, setup.key, setup.url, 401),
        "the revoked key is refused by every worker",
    )
    assert status(gateway, setup.other_key, setup.url) == 200

    def fleet_tells_the_truth() -> bool:
        (item,) = setup.admin.get("/v1/gateways").json()["items"]
        return bool(item["status"] == "in_sync" and item["served_hash"] == served_hash(gateway))

    eventually(fleet_tells_the_truth, "/v1/gateways shows what the workers serve")
    assert "could not write the snapshot copy" in gateway.stop()


def test_gateway_restarted_while_the_control_plane_is_down_serves_its_disk_copy(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    token = gateway_token(setup.admin)
    data_dir = tmp_path / "gw"
    first = gateways.start(token["secret"], data_dir=data_dir)
    served = served_hash(first)
    first.stop()

    nowhere = f"http://127.0.0.1:{free_port()}"
    second = gateways.start(token["secret"], data_dir=data_dir, control_plane_url=nowhere)
    assert served_hash(second) == served
    assert status(second, setup.key, setup.url) == 200
    assert status(second, "stoa_sk_unknown", setup.url) == 401
    assert "serving the disk copy" in second.stop()


def test_damaged_disk_copy_is_not_served(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    token = gateway_token(setup.admin)
    data_dir = tmp_path / "gw"
    gateways.start(token["secret"], data_dir=data_dir).stop()
    copy = data_dir / "synced-snapshot"
    damaged = bytearray(copy.read_bytes())
    damaged[-10] ^= 0x01  # one flipped bit in the snapshot, the header left intact
    copy.write_bytes(bytes(damaged))

    nowhere = f"http://127.0.0.1:{free_port()}"
    gateway = gateways.start(
        token["secret"], data_dir=data_dir, control_plane_url=nowhere, ready=False
    )
    eventually(lambda: answers(gateway), "the gateway listens")
    assert httpx.get(gateway.url + "/readyz").status_code == 503
    assert status(gateway, setup.key, setup.url) == 503
    output = gateway.stop()
    assert "corrupted" in output
    assert "not ready" in output


def test_gateway_without_control_plane_or_copy_starts_not_ready_and_says_why(
    world: World, gateways: Gateways, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    gateway = gateways.start(
        "stoa_gw_whatever", data_dir=tmp_path / "gw", control_plane_url=nowhere, ready=False
    )
    eventually(lambda: answers(gateway), "the gateway listens")
    readiness = httpx.get(gateway.url + "/readyz")
    assert readiness.status_code == 503
    reason = readiness.json()["reason"]
    assert "cannot reach" in reason
    assert "no snapshot copy" in reason
    output = gateway.stop()
    assert "not ready" in output
    assert "cannot reach" in output
    assert "no snapshot copy" in output


def _break_api_upstream(world: World, url: str) -> None:
    """Write an upstream URL the API would refuse straight into the database, as an old
    row or a bug might: the snapshot then holds something the gateway cannot compile."""
    import asyncio

    async def write() -> None:
        engine = create_engine(world.settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await session.execute(update(Api).values(backend_url=url))
        finally:
            await engine.dispose()

    asyncio.run(write())


def test_snapshot_the_compiler_refuses_is_reported_and_the_old_one_keeps_serving(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = seed(world, upstreams.echo.url)
    tokens = [gateway_token(setup.admin, f"edge-{n}")["secret"] for n in range(2)]
    data = [tmp_path / f"gw{n}" for n in range(2)]
    fleet = [
        gateways.start(token, data_dir=data_dir, workers=1)
        for token, data_dir in zip(tokens, data, strict=True)
    ]
    served = served_hash(fleet[0])
    assert served_hash(fleet[1]) == served

    _break_api_upstream(world, "ftp://files.example/echo")
    # Any change through the API makes the control plane publish the broken snapshot.
    setup.provider_admin.post("/v1/tenants/provider/plans", json={"name": "silver"})

    def refusals_reported() -> bool:
        items = setup.admin.get("/v1/gateways").json()["items"]
        return len(items) == 2 and all(item["refused"] is not None for item in items)

    eventually(refusals_reported, "/v1/gateways shows the snapshot refused by both gateways")
    for reported in setup.admin.get("/v1/gateways").json()["items"]:
        assert reported["status"] == "behind"
        assert reported["served_hash"] == served
        assert reported["refused"]["hash"] == reported["latest_hash"]
        assert "ftp://files.example/echo" in reported["refused"]["reason"]
    for gateway in fleet:
        assert served_hash(gateway) == served
        assert status(gateway, setup.key, setup.url) == 200

    # A gateway that starts while the control plane offers only what it refuses serves
    # its disk copy.
    fleet[1].stop()
    fleet[1] = gateways.start(tokens[1], data_dir=data[1], workers=1)
    assert served_hash(fleet[1]) == served
    assert status(fleet[1], setup.key, setup.url) == 200

    # Once the config is fixed, the gateways catch up.
    _break_api_upstream(world, upstreams.echo.url + "/fixed")
    setup.provider_admin.post("/v1/tenants/provider/plans", json={"name": "bronze"})
    for gateway in fleet:
        eventually(
            lambda gateway=gateway: served_hash(gateway) != served, "the fixed snapshot is served"
        )
        answer = httpx.get(gateway.url + setup.url, headers={"x-api-key": setup.key})
        assert answer.json()["path"] == "/fixed/hello"
    output = fleet[1].stop()
    assert "does not compile" in output
    assert "serving the disk copy" in output
