"""Snapshots for the gateway's MCP tests: the demo APIs, subscribed by one application."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

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
from stoa.controlplane.catalog.openapi import parse_openapi, tools_from_openapi
from stoa.demo.weather import WEATHER_OPENAPI_PATH
from stoa.gateway.auth.caller import Caller
from stoa.gateway.snapshot.compiled import CompiledSnapshot, compile_snapshot
from stoa.kit.api_key import generate_key
from support.servers import free_port

APP = "app-dev"
SESSION_SECRET = base64.b64encode(b"s" * 32).decode()


def weather_tools() -> list[ToolEntry]:
    drafts = tools_from_openapi(parse_openapi(WEATHER_OPENAPI_PATH.read_bytes()))
    return [
        ToolEntry(
            name=d.name,
            description=d.description,
            input_schema=d.input_schema,
            output_schema=d.output_schema,
            annotations=d.annotations,
            binding=d.binding,
        )
        for d in drafts
    ]


def toolbox_tools() -> list[ToolEntry]:
    return [
        ToolEntry(
            name="echo",
            description="Return the text unchanged",
            input_schema={
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        ),
        ToolEntry(
            name="add",
            description="Add two numbers and return the sum",
            input_schema={
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
            annotations={"readOnlyHint": True, "idempotentHint": True},
        ),
        ToolEntry(
            name="fail",
            description="Always fail with a tool error",
            input_schema={"type": "object", "properties": {}},
        ),
    ]


def api(
    api_id: str,
    name: str,
    kind: str,
    url: str,
    tools: list[ToolEntry],
    *,
    tenant: str = "demo",
    auth: UpstreamAuth | None = None,
) -> ApiEntry:
    return ApiEntry(
        id=api_id,
        tenant_id=f"t-{tenant}",
        tenant=tenant,
        name=name,
        kind="mcp" if kind == "mcp" else "rest",
        lifecycle="published",
        visibility="public",
        upstream_url=url,
        tools=tools,
        upstream_auth=auth,
    )


def snapshot(
    apis: list[ApiEntry],
    *,
    subscribed: list[str] | None = None,
    plan: dict[str, Any] | None = None,
    policies: list[PolicyEntry] | None = None,
) -> Snapshot:
    """`apis`, each subscribed by application `APP` (or only those in `subscribed`)."""
    ids = [a.id for a in apis] if subscribed is None else subscribed
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        generated_at=1.0,
        apis=apis,
        plans=[PlanEntry(id="plan-1", tenant_id="t-demo", name="free", **(plan or {}))],
        applications=[ApplicationEntry(id=APP, owner_id="user-dev", tenant_id="t-demo")],
        subscriptions=[
            SubscriptionEntry(
                id=f"sub-{api_id}", application_id=APP, api_id=api_id, plan_id="plan-1"
            )
            for api_id in ids
        ],
        keys=[],
        policies=policies or [],
        secrets=GatewaySecrets(key_hash_secret=SESSION_SECRET, session_secret=SESSION_SECRET),
    )


def caller_of(
    compiled: CompiledSnapshot, *, scopes: frozenset[str] | None = None, subject: str = "key-1"
) -> Caller:
    return Caller(
        subject=subject, grants=compiled.grants_by_application.get(APP, {}), scopes=scopes
    )


def compiled(*args: Any, **kwargs: Any) -> CompiledSnapshot:
    return compile_snapshot(snapshot(*args, **kwargs))


HASH_SECRET = b"h" * 32


class GatewayRun:
    """`stoa gateway --snapshot FILE` in a subprocess, for end-to-end tests."""

    def __init__(
        self,
        built: Snapshot,
        directory: Path,
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.snapshot = built
        snapshot_file = directory / "snapshot.json"
        snapshot_file.write_bytes(encode_snapshot(built))
        stoa = Path(sys.executable).with_name("stoa")
        self.process = subprocess.Popen(
            [
                *(str(stoa), "gateway", "--snapshot", str(snapshot_file)),
                *("--port", str(self.port), "--workers", str(workers)),
            ],
            env={
                **os.environ,
                "STOA_GATEWAY_PUBLIC_URL": self.url,
                "STOA_GATEWAY__ACCESS_LOG": "false",
                **(env or {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        # Generous: on a loaded machine (a benchmark at high priority) start-up is slow.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"the gateway exited: {output}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the gateway did not become ready")

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out.decode(errors="replace") if out else ""


def with_key(built: Snapshot) -> tuple[Snapshot, str]:
    """`built` with one API key of application `APP`, hashed with `HASH_SECRET`; and its secret."""
    key = generate_key(HASH_SECRET)
    secret = base64.b64encode(HASH_SECRET).decode()
    return (
        msgspec.structs.replace(
            built,
            keys=[KeyEntry(id="key-dev", application_id=APP, digest=key.digest)],
            secrets=GatewaySecrets(key_hash_secret=secret, session_secret=SESSION_SECRET),
        ),
        key.secret,
    )


@dataclass
class Stack:
    """A running gateway and the API key of application `APP`."""

    gateway: GatewayRun
    key: str

    @property
    def url(self) -> str:
        """The aggregate MCP endpoint."""
        return self.gateway.url + "/mcp"
