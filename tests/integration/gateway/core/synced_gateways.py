"""`stoa gateway` processes kept current by the in-test control plane (`world`), and a
provider's echo API with subscribers seeded for them to serve.

Shared by the config-sync tests (one or two gateways) and the fleet outage test."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from gateway_world import GatewayProcess

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
    """Tenant `provider` publishes the REST API `echo` with plan `gold`; in tenant
    `consumer`, the developer's applications `app` (key `key`) and `other` (key
    `other_key`) are subscribed to it on `gold`."""

    world: World
    admin: Caller
    developer: Caller
    provider_admin: Caller
    provider_id: str
    api_id: str
    plan_id: str
    app_id: str
    key_id: str
    key: str
    other_key: str
    subscription_id: str
    other_subscription_id: str
    url: str  # a proxied path of the echo API

    def subscriber(self, owner: Caller, tenant_id: str, plan_id: str, name: str) -> str:
        """A new application of `owner` in `tenant_id`, subscribed to echo on `plan_id`;
        the secret of its key."""
        secrets = load_platform_secrets(self.world.settings)
        key = generate_key(secrets.key_hash_secret)
        app_id = new_id("app")
        self.world._run(
            Application(id=app_id, owner_id=owner.user_id, tenant_id=tenant_id, name=name),
            Subscription(
                id=new_id("sub"),
                application_id=app_id,
                api_id=self.api_id,
                plan_id=plan_id,
                tenant_id=self.provider_id,
                status="active",
            ),
            ApiKey(
                id=new_id("key"),
                application_id=app_id,
                name="k",
                prefix=key.prefix,
                digest=key.digest,
            ),
        )
        return key.secret

    def plan(self, name: str, per_minute: int | None = None) -> str:
        """A new plan of the provider; its id."""
        plan_id = new_id("pln")
        self.world._run(
            Plan(id=plan_id, tenant_id=self.provider_id, name=name, per_minute=per_minute)
        )
        return plan_id


def seed(world: World, echo_url: str, *, per_minute: int | None = None) -> Setup:
    """The set-up described on `Setup`; `per_minute` is gold's limit (none by default)."""
    secrets = load_platform_secrets(world.settings)
    provider = world.tenant("provider")
    consumer = world.tenant("consumer")
    developer = world.user("dev@consumer.test", tenant="consumer")
    provider_admin = world.user("boss@provider.test", tenant="provider", roles=["tenant-admin"])
    api_id, plan_id, app_id, other_app = new_id("api"), new_id("pln"), new_id("app"), new_id("app")
    key, other = generate_key(secrets.key_hash_secret), generate_key(secrets.key_hash_secret)
    key_id, subscription_id, other_subscription_id = new_id("key"), new_id("sub"), new_id("sub")
    world._run(
        Api(
            id=api_id,
            tenant_id=provider,
            name="echo",
            title="Echo",
            kind="rest",
            visibility="public",
            lifecycle="published",
            backend_url=echo_url,
        ),
        Plan(id=plan_id, tenant_id=provider, name="gold", per_minute=per_minute),
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
            id=other_subscription_id,
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
        world=world,
        admin=world.platform_admin(),
        developer=developer,
        provider_admin=provider_admin,
        provider_id=provider,
        api_id=api_id,
        plan_id=plan_id,
        app_id=app_id,
        key_id=key_id,
        key=key.secret,
        other_key=other.secret,
        subscription_id=subscription_id,
        other_subscription_id=other_subscription_id,
        url="/proxy/provider/echo/hello",
    )


class Gateways:
    """Starts synced `stoa gateway` processes; the `gateways` fixture stops them after
    the test."""

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
        env: dict[str, str] | None = None,
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
                **(env or {}),
            },
        )
        self.started.append(gateway)
        return gateway.wait_ready() if ready else gateway

    def stop_all(self) -> None:
        for gateway in self.started:
            gateway.stop()


def status(gateway: GatewayProcess, key: str, url: str) -> int:
    # A fresh connection per call, so with several workers every one of them answers.
    return httpx.get(gateway.url + url, headers={"x-api-key": key}).status_code


def all_workers_answer(gateway: GatewayProcess, key: str, url: str, expected: int) -> bool:
    return all(status(gateway, key, url) == expected for _ in range(12))


def served_hash(gateway: GatewayProcess) -> str | None:
    """The hash of the snapshot `gateway` serves, None when it is not ready."""
    answer = httpx.get(gateway.url + "/readyz")
    return answer.json().get("snapshot") if answer.status_code == 200 else None


def answers(gateway: GatewayProcess) -> bool:
    try:
        httpx.get(gateway.url + "/healthz", timeout=1.0)
    except httpx.TransportError:
        return False
    return True


def gateway_token(admin: Caller, name: str = "edge") -> dict[str, str]:
    created = admin.post("/v1/gateway-tokens", json={"name": name})
    assert created.status_code == 201, created.text
    issued: dict[str, str] = created.json()
    return issued
