"""`stoa gateway` kept current by a real control plane: changes arrive within about a
second, a revoked gateway token cuts the config off, the disk copy carries a restart
through an outage, and what cannot be served (a damaged copy, a snapshot the compiler
refuses) is not served."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gateway_world import GatewayProcess
from sqlalchemy import update

from conftest import Upstreams
from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.models import Api, ApiKey, Application, Plan, Subscription
from stoa.kit.api_key import generate_key
from stoa.kit.ids import new_id
from stoa.kit.platform_secrets import load_platform_secrets
from support.servers import free_port
from support.world import Caller, World

# Changes must reach gateways within a second; the deadline is wider so a loaded test
# machine does not fail the test, but a gateway that does not sync at all still does.
SYNC_DEADLINE = 10.0


def eventually(check: Callable[[], bool], what: str, deadline: float = SYNC_DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {deadline}s: {what}")


@dataclass
class Setup:
    admin: Caller
    developer: Caller
    provider_admin: Caller
    app_id: str
    key_id: str
    key: str
    other_key: str
    subscription_id: str
    url: str  # a proxied path of the echo API


def _setup(world: World, upstreams: Upstreams) -> Setup:
    secrets = load_platform_secrets(world.settings)
    provider = world.tenant("provider")
    consumer = world.tenant("consumer")
    developer = world.user("dev@consumer.test", tenant="consumer")
    provider_admin = world.user("boss@provider.test", tenant="provider", roles=["tenant-admin"])
    api_id, plan_id, app_id, other_app = new_id("api"), new_id("pln"), new_id("app"), new_id("app")
    key, other = generate_key(secrets.key_hash_secret), generate_key(secrets.key_hash_secret)
    key_id, subscription_id = new_id("key"), new_id("sub")
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
        Plan(id=plan_id, tenant_id=provider, name="gold"),
        Application(id=app_id, owner_id=developer.user_id, tenant_id=consumer, name="app"),
        Application(id=other_app, owner_id=developer.user_id, tenant_id=consumer, name="other"),
        Subscription(
            id=subscription_id,
            application_id=app_id,
            api_id=api_id,
            plan_id=plan_id,
            tenant_id=provider,
            status="active",
        ),
        Subscription(
            id=new_id("sub"),
            application_id=other_app,
            api_id=api_id,
            plan_id=plan_id,
            tenant_id=provider,
            status="active",
        ),
        ApiKey(id=key_id, application_id=app_id, name="k", prefix=key.prefix, digest=key.digest),
        ApiKey(
            id=new_id("key"),
            application_id=other_app,
            name="k",
            prefix=other.prefix,
            digest=other.digest,
        ),
    )
    return Setup(
        admin=world.platform_admin(),
        developer=developer,
        provider_admin=provider_admin,
        app_id=app_id,
        key_id=key_id,
        key=key.secret,
        other_key=other.secret,
        subscription_id=subscription_id,
        url="/proxy/provider/echo/hello",
    )


class Gateways:
    """Starts synced `stoa gateway` processes; stops them after the test."""

    def __init__(self, world: World, tmp_path: Path) -> None:
        self.world = world
        self.tmp_path = tmp_path
        self.started: list[GatewayProcess] = []

    def start(
        self,
        token: str,
        *,
        data_dir: Path,
        workers: int = 2,
        control_plane_url: str | None = None,
        ready: bool = True,
    ) -> GatewayProcess:
        gateway = GatewayProcess(
            None,
            free_port(),
            workers=workers,
            env={
                "STOA_CONTROL_PLANE_URL": control_plane_url or self.world.base_url,
                "STOA_GATEWAY_TOKEN": token,
                "STOA_DATA_DIR": str(data_dir),
                "STOA_GATEWAY__NAME": f"edge-{len(self.started)}",
                "STOA_GATEWAY__SYNC_BACKOFF_MAX_SECONDS": "1",
            },
        )
        self.started.append(gateway)
        return gateway.wait_ready() if ready else gateway


@pytest.fixture
def gateways(world: World, tmp_path: Path) -> Iterator[Gateways]:
    built = Gateways(world, tmp_path)
    yield built
    for gateway in built.started:
        gateway.stop()


def _status(gateway: GatewayProcess, key: str, url: str) -> int:
    # A fresh connection per call, so with several workers every one of them answers.
    return httpx.get(gateway.url + url, headers={"x-api-key": key}).status_code


def _all_workers_answer(gateway: GatewayProcess, key: str, url: str, status: int) -> bool:
    return all(_status(gateway, key, url) == status for _ in range(12))


def _served(gateway: GatewayProcess) -> str | None:
    answer = httpx.get(gateway.url + "/readyz")
    return answer.json().get("snapshot") if answer.status_code == 200 else None


def _gateway_token(admin: Caller, name: str = "edge") -> dict[str, str]:
    created = admin.post("/v1/gateway-tokens", json={"name": name})
    assert created.status_code == 201, created.text
    issued: dict[str, str] = created.json()
    return issued


def test_changes_made_through_the_api_reach_a_running_gateway(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = _setup(world, upstreams)
    token = _gateway_token(setup.admin)
    gateway = gateways.start(token["secret"], data_dir=tmp_path / "gw")
    assert _status(gateway, setup.key, setup.url) == 200
    assert _status(gateway, setup.other_key, setup.url) == 200

    revoked = setup.developer.post(f"/v1/applications/{setup.app_id}/keys/{setup.key_id}/revoke")
    assert revoked.status_code == 200
    eventually(
        lambda: _all_workers_answer(gateway, setup.key, setup.url, 401),
        "the revoked key is refused by every worker",
    )
    assert _status(gateway, setup.other_key, setup.url) == 200

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
        lambda: _all_workers_answer(gateway, setup.other_key, setup.url, 403),
        "the suspended subscription is refused by every worker",
    )

    def fleet_in_sync() -> bool:
        items = setup.admin.get("/v1/gateways").json()["items"]
        return [(g["name"], g["status"], g["served_hash"]) for g in items] == [
            ("edge-0", "in_sync", _served(gateway))
        ]

    eventually(fleet_in_sync, "/v1/gateways shows the gateway in sync")


def test_revoked_gateway_token_gets_no_more_config(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = _setup(world, upstreams)
    token = _gateway_token(setup.admin)
    gateway = gateways.start(token["secret"], data_dir=tmp_path / "gw")
    served = _served(gateway)
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
        assert _served(gateway) == served
        assert _status(gateway, setup.key, setup.url) == 200
        time.sleep(0.2)
    assert "answered 401" in gateway.stop()


def test_gateway_restarted_while_the_control_plane_is_down_serves_its_disk_copy(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = _setup(world, upstreams)
    token = _gateway_token(setup.admin)
    data_dir = tmp_path / "gw"
    first = gateways.start(token["secret"], data_dir=data_dir)
    served = _served(first)
    first.stop()

    nowhere = f"http://127.0.0.1:{free_port()}"
    second = gateways.start(token["secret"], data_dir=data_dir, control_plane_url=nowhere)
    assert _served(second) == served
    assert _status(second, setup.key, setup.url) == 200
    assert _status(second, "stoa_sk_unknown", setup.url) == 401
    assert "serving the disk copy" in second.stop()


def test_damaged_disk_copy_is_not_served(
    world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    setup = _setup(world, upstreams)
    token = _gateway_token(setup.admin)
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
    eventually(lambda: _answers(gateway), "the gateway listens")
    assert httpx.get(gateway.url + "/readyz").status_code == 503
    assert _status(gateway, setup.key, setup.url) == 503
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
    eventually(lambda: _answers(gateway), "the gateway listens")
    readiness = httpx.get(gateway.url + "/readyz")
    assert readiness.status_code == 503
    reason = readiness.json()["reason"]
    assert "cannot reach" in reason
    assert "no snapshot copy" in reason
    output = gateway.stop()
    assert "not ready" in output
    assert "cannot reach" in output
    assert "no snapshot copy" in output


def _answers(gateway: GatewayProcess) -> bool:
    try:
        httpx.get(gateway.url + "/healthz", timeout=1.0)
    except httpx.TransportError:
        return False
    return True


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
    setup = _setup(world, upstreams)
    token = _gateway_token(setup.admin)
    gateway = gateways.start(token["secret"], data_dir=tmp_path / "gw", workers=1)
    served = _served(gateway)

    _break_api_upstream(world, "ftp://files.example/echo")
    # Any change through the API makes the control plane publish the broken snapshot.
    setup.provider_admin.post("/v1/tenants/provider/plans", json={"name": "silver"})

    def refusal_reported() -> bool:
        items = setup.admin.get("/v1/gateways").json()["items"]
        return len(items) == 1 and items[0]["refused"] is not None

    eventually(refusal_reported, "/v1/gateways shows the refused snapshot")
    fleet = setup.admin.get("/v1/gateways").json()["items"][0]
    assert fleet["status"] == "behind"
    assert fleet["served_hash"] == served
    assert fleet["refused"]["hash"] == fleet["latest_hash"]
    assert "ftp://files.example/echo" in fleet["refused"]["reason"]
    assert _served(gateway) == served
    assert _status(gateway, setup.key, setup.url) == 200

    # Once the config is fixed, the gateway catches up.
    _break_api_upstream(world, upstreams.echo.url + "/fixed")
    setup.provider_admin.post("/v1/tenants/provider/plans", json={"name": "bronze"})
    eventually(lambda: _served(gateway) != served, "the fixed snapshot is served")
    assert httpx.get(gateway.url + setup.url, headers={"x-api-key": setup.key}).json()["path"] == (
        "/fixed/hello"
    )
