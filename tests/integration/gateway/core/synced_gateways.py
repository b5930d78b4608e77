"""`stoa gateway` processes kept current by the in-test control plane (`world`), and a
provider's echo API with subscribers seeded for them to serve.

Shared by the config-sync tests (one or two gateways) and the fleet outage test."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Subscriber:
    """An application subscribed to an API on a plan, with one key: the rows to insert."""

    app_id: str
    subscription_id: str
    key_id: str
    key: str  # the key's secret
    rows: tuple[Any, ...]


def subscriber_rows(
    world: World, owner_id: str, tenant_id: str, api: Api, plan_id: str, name: str
) -> Subscriber:
    """Application `name` of `owner_id` in `tenant_id`, actively subscribed to `api` on
    `plan_id`, and its key."""
    generated = generate_key(load_platform_secrets(world.settings).key_hash_secret)
    app_id, subscription_id, key_id = new_id("app"), new_id("sub"), new_id("key")
    return Subscriber(
        app_id=app_id,
        subscription_id=subscription_id,
        key_id=key_id,
        key=generated.secret,
        rows=(
            Application(id=app_id, owner_id=owner_id, tenant_id=tenant_id, name=name),
            Subscription(
                id=subscription_id,
                application_id=app_id,
                api_id=api.id,
                plan_id=plan_id,
                tenant_id=api.tenant_id,
                status="active",
            ),
            ApiKey(
                id=key_id,
                application_id=app_id,
                name="k",
                prefix=generated.prefix,
                digest=generated.digest,
            ),
        ),
    )


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
        api = Api(id=self.api_id, tenant_id=self.provider_id)
        added = subscriber_rows(
            self.world,
            owner_id=owner.user_id,
            tenant_id=tenant_id,
            api=api,
            plan_id=plan_id,
            name=name,
        )
        self.world._run(*added.rows)
        return added.key

    def plan(self, name: str, per_minute: int | None = None) -> str:
        """A new plan of the provider; its id."""
        plan_id = new_id("pln")
        self.world._run(
            Plan(id=plan_id, tenant_id=self.provider_id, name=name, per_minute=per_minute)
        )
        return plan_id


def seed(world: World, echo_url: str, *, per_minute: int | None = None) -> Setup:
    """The set-up described on `Setup`; `per_minute` is gold's limit (none by default)."""
    provider = world.tenant("provider")
    consumer = world.tenant("consumer")
    developer = world.user("dev@consumer.test", tenant="consumer")
    provider_admin = world.user("boss@provider.test", tenant="provider", roles=["tenant-admin"])
    api = Api(
        id=new_id("api"),
        tenant_id=provider,
        name="echo",
        title="Echo",
        kind="rest",
        visibility="public",
        lifecycle="published",
        backend_url=echo_url,
    )
    plan = Plan(id=new_id("pln"), tenant_id=provider, name="gold", per_minute=per_minute)
    app, other = (
        subscriber_rows(
            world,
            owner_id=developer.user_id,
            tenant_id=consumer,
            api=api,
            plan_id=plan.id,
            name=name,
        )
        for name in ("app", "other")
    )
    world._run(api, plan, *app.rows, *other.rows)
    return Setup(
        world=world,
        admin=world.platform_admin(),
        developer=developer,
        provider_admin=provider_admin,
        provider_id=provider,
        api_id=api.id,
        plan_id=plan.id,
        app_id=app.app_id,
        key_id=app.key_id,
        key=app.key,
        other_key=other.key,
        subscription_id=app.subscription_id,
        other_subscription_id=other.subscription_id,
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
