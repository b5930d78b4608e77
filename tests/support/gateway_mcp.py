"""Snapshots for the gateway's MCP tests: the demo APIs, subscribed by one application."""

from __future__ import annotations

import base64
from typing import Any

from stoa.contract.snapshot import (
    SCHEMA_VERSION,
    ApiEntry,
    ApplicationEntry,
    GatewaySecrets,
    PlanEntry,
    PolicyEntry,
    Snapshot,
    SubscriptionEntry,
    ToolEntry,
    UpstreamAuth,
)
from stoa.controlplane.catalog.openapi import parse_openapi, tools_from_openapi
from stoa.demo.weather import WEATHER_OPENAPI_PATH
from stoa.gateway.auth.caller import Caller
from stoa.gateway.snapshot.compiled import CompiledSnapshot, compile_snapshot

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
