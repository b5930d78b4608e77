"""A gateway under test: a real `stoa gateway` process on loopback serving a snapshot file,
and real upstreams (the demo weather API and an echo server) in threads."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from stoa.contract.snapshot import (
    SCHEMA_VERSION,
    ApiEntry,
    ApplicationEntry,
    GatewaySecrets,
    KeyEntry,
    PlanEntry,
    PolicyEntry,
    Snapshot,
    SubscriptionEntry,
    ToolEntry,
    UpstreamAuth,
    encode_snapshot,
)
from stoa.kit.api_key import generate_key

HASH_SECRET = b"h" * 32


def create_echo_app() -> Starlette:
    """Echoes what it received; `/slow` answers after `?seconds=`; `/big` streams."""

    async def echo(request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers.items()),
                "body": body.decode("latin-1"),
            }
        )

    async def slow(request: Request) -> Response:
        await asyncio.sleep(float(request.query_params.get("seconds", "5")))
        return JSONResponse({"slow": True})

    async def big(request: Request) -> Response:
        async def chunks() -> Any:
            for _ in range(100):
                yield b"x" * 10_000

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/slow", slow),
            Route("/big", big),
            Route("/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
        ]
    )


@dataclass
class Keys:
    """Secrets of the keys in the default snapshot, by role."""

    good: str
    expired: str
    revoked: str
    grace: str
    other_app: str


def _key(expires_at: float | None, app: str, kid: str) -> tuple[str, KeyEntry]:
    new = generate_key(HASH_SECRET)
    return new.secret, KeyEntry(
        id=kid, application_id=app, digest=new.digest, expires_at=expires_at
    )


@dataclass
class SnapshotSpec:
    """What the test wants the snapshot to hold; `build()` makes the contract object."""

    weather_url: str
    echo_url: str
    plan: PlanEntry = field(
        default_factory=lambda: PlanEntry(id="pln_gold", tenant_id="ten_demo", name="gold")
    )
    policies: list[PolicyEntry] = field(default_factory=list)
    suspended: bool = False
    keys: Keys | None = None
    key_entries: list[KeyEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        now = time.time()
        good, good_entry = _key(None, "app_dev", "key_good")
        expired, expired_entry = _key(now - 60, "app_dev", "key_expired")
        revoked, _ = _key(None, "app_dev", "key_revoked")  # not in the snapshot
        grace, grace_entry = _key(now + 3600, "app_dev", "key_grace")
        other, other_entry = _key(None, "app_other", "key_other")
        self.keys = Keys(good, expired, revoked, grace, other)
        self.key_entries = [good_entry, expired_entry, grace_entry, other_entry]

    def build(self) -> Snapshot:
        apis = [
            ApiEntry(
                id="api_weather",
                tenant_id="ten_demo",
                tenant="demo",
                name="weather",
                kind="rest",
                lifecycle="published",
                visibility="public",
                upstream_url=self.weather_url,
                tools=[
                    ToolEntry(name="getForecast", description="", input_schema={"type": "object"})
                ],
            ),
            ApiEntry(
                id="api_echo",
                tenant_id="ten_demo",
                tenant="demo",
                name="echo",
                kind="rest",
                lifecycle="published",
                visibility="public",
                upstream_url=self.echo_url + "/base",
                tools=[],
                upstream_auth=UpstreamAuth(
                    location="header", name="x-upstream-key", value="hunter2"
                ),
            ),
            ApiEntry(
                id="api_secret",
                tenant_id="ten_other",
                tenant="other",
                name="secret",
                kind="rest",
                lifecycle="published",
                visibility="tenant",
                upstream_url=self.echo_url,
                tools=[],
            ),
            ApiEntry(
                id="api_down",
                tenant_id="ten_demo",
                tenant="demo",
                name="down",
                kind="rest",
                lifecycle="published",
                visibility="public",
                upstream_url="http://127.0.0.1:9",
                tools=[],
            ),
        ]
        subscriptions = [
            SubscriptionEntry(
                id=f"sub_{api}", application_id="app_dev", api_id=f"api_{api}", plan_id=self.plan.id
            )
            for api in ("weather", "echo", "down")
        ]
        if self.suspended:
            subscriptions = [s for s in subscriptions if s.api_id != "api_echo"]
        subscriptions.append(
            SubscriptionEntry(
                id="sub_other", application_id="app_other", api_id="api_secret", plan_id="pln_other"
            )
        )
        return Snapshot(
            schema_version=SCHEMA_VERSION,
            generated_at=time.time(),
            apis=apis,
            plans=[self.plan, PlanEntry(id="pln_other", tenant_id="ten_other", name="other")],
            applications=[
                ApplicationEntry(id="app_dev", owner_id="usr_dev", tenant_id="ten_consumer"),
                ApplicationEntry(id="app_other", owner_id="usr_other", tenant_id="ten_other"),
            ],
            subscriptions=subscriptions,
            keys=self.key_entries,
            policies=self.policies,
            secrets=GatewaySecrets(
                key_hash_secret=base64.b64encode(HASH_SECRET).decode(),
                session_secret=base64.b64encode(b"s" * 32).decode(),
            ),
        )


class GatewayProcess:
    """`stoa gateway --snapshot FILE` in a subprocess."""

    def __init__(
        self,
        snapshot_file: Path | None,
        port: int,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.snapshot_file = snapshot_file
        stoa = Path(sys.executable).with_name("stoa")
        full_env = {
            **os.environ,
            "STOA_GATEWAY_PUBLIC_URL": self.url,
            "STOA_GATEWAY__ACCESS_LOG": "false",
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [
                str(stoa),
                "gateway",
                *(["--snapshot", str(snapshot_file)] if snapshot_file else []),
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> GatewayProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"gateway exited: {output}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("gateway did not become ready")

    def reload(self, snapshot: Snapshot | None = None) -> None:
        """Write `snapshot` (if given) and SIGHUP the gateway; wait until it serves a
        snapshot other than the one it served before."""
        before = httpx.get(self.url + "/readyz").json()["snapshot"]
        if snapshot is not None:
            assert self.snapshot_file is not None
            self.snapshot_file.write_bytes(encode_snapshot(snapshot))
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if httpx.get(self.url + "/readyz").json()["snapshot"] != before:
                return
            time.sleep(0.05)
        raise RuntimeError("gateway did not reload")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out.decode(errors="replace") if out else ""
