"""Compiling a snapshot: what each caller may reach, and what is refused."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from stoa.contract.snapshot import (
    SCHEMA_VERSION,
    ApiEntry,
    ApplicationEntry,
    GatewaySecrets,
    KeyEntry,
    PlanEntry,
    PolicyEntry,
    Snapshot,
    SnapshotError,
    SubscriptionEntry,
    ToolEntry,
)
from stoa.gateway.snapshot.compiled import compile_snapshot


def _tool(name: str) -> ToolEntry:
    return ToolEntry(name=name, description=name, input_schema={"type": "object"})


def _snapshot(
    *,
    policies: list[PolicyEntry] | None = None,
    allowlist: list[str] | None = None,
    subscriptions: list[SubscriptionEntry] | None = None,
    upstream: str = "http://127.0.0.1:9000/base/",
) -> Snapshot:
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        generated_at=1.0,
        apis=[
            ApiEntry(
                id="api_w",
                tenant_id="ten_p",
                tenant="provider",
                name="weather",
                kind="rest",
                lifecycle="published",
                visibility="public",
                upstream_url=upstream,
                tools=[_tool("zeta"), _tool("alpha"), _tool("mid")],
            ),
            ApiEntry(
                id="api_t",
                tenant_id="ten_o",
                tenant="other",
                name="toolbox",
                kind="mcp",
                lifecycle="published",
                visibility="public",
                upstream_url="http://127.0.0.1:9001/mcp",
                tools=[_tool("echo")],
            ),
        ],
        plans=[
            PlanEntry(id="pln_1", tenant_id="ten_p", name="gold", tool_allowlist=allowlist),
            PlanEntry(id="pln_2", tenant_id="ten_o", name="free"),
        ],
        applications=[
            ApplicationEntry(id="app_1", owner_id="usr_1", tenant_id="ten_c"),
            ApplicationEntry(id="app_2", owner_id="usr_1", tenant_id="ten_c"),
        ],
        subscriptions=subscriptions
        if subscriptions is not None
        else [
            SubscriptionEntry(id="sub_1", application_id="app_1", api_id="api_w", plan_id="pln_1"),
            SubscriptionEntry(id="sub_2", application_id="app_2", api_id="api_t", plan_id="pln_2"),
        ],
        keys=[KeyEntry(id="key_1", application_id="app_1", digest="ab" * 32, expires_at=5.0)],
        policies=policies or [],
        secrets=GatewaySecrets(
            key_hash_secret=base64.b64encode(b"k" * 32).decode(),
            session_secret=base64.b64encode(b"s" * 32).decode(),
        ),
    )


def _policy(
    pid: str, kind: str, target: str, target_id: str, config: dict[str, Any]
) -> PolicyEntry:
    return PolicyEntry(
        id=pid,
        tenant_id="ten_p",
        kind=kind,
        target_type=target,
        target_id=target_id,
        config=config,  # type: ignore[arg-type]
    )


def test_routes_keys_and_grants_are_looked_up_directly() -> None:
    compiled = compile_snapshot(_snapshot())
    api = compiled.api_by_route[("provider", "weather")]
    assert api.upstream is not None
    assert (api.upstream.host, api.upstream.port, api.upstream.base_path) == (
        "127.0.0.1",
        9000,
        "/base",
    )
    assert compiled.key_by_digest["ab" * 32].expires_at == 5.0
    grant = compiled.grants_by_application["app_1"]["api_w"]
    assert [tool.name for tool in grant.tools] == ["alpha", "mid", "zeta"]
    assert grant.allows_tool("mid")
    assert not grant.allows_tool("echo")
    assert "api_t" not in compiled.grants_by_application["app_1"]
    assert compiled.key_hash_secret == b"k" * 32


def test_owner_grants_merge_every_application_of_the_subject() -> None:
    compiled = compile_snapshot(_snapshot())
    assert set(compiled.grants_for_owner("usr_1")) == {"api_w", "api_t"}
    assert compiled.grants_for_owner("usr_unknown") == {}


def test_plan_allowlist_and_tool_filters_narrow_the_tools() -> None:
    compiled = compile_snapshot(
        _snapshot(
            allowlist=["alpha", "mid"],
            policies=[
                _policy("pol_1", "tool_filter", "api", "api_w", {"allow": None, "deny": ["mid"]})
            ],
        )
    )
    grant = compiled.grants_by_application["app_1"]["api_w"]
    assert [tool.name for tool in grant.tools] == ["alpha"]
    assert not grant.allows_tool("zeta")


def test_policies_merge_tenant_api_and_plan() -> None:
    compiled = compile_snapshot(
        _snapshot(
            policies=[
                _policy("pol_1", "body_size", "tenant", "ten_p", {"max_bytes": 1000}),
                _policy("pol_2", "body_size", "plan", "pln_1", {"max_bytes": 10}),
                _policy(
                    "pol_3", "ip_filter", "api", "api_w", {"allow": [], "deny": ["10.0.0.0/8"]}
                ),
                _policy("pol_4", "headers", "tenant", "ten_p", {"set": {"x-a": "1"}, "remove": []}),
                _policy(
                    "pol_5", "headers", "plan", "pln_1", {"set": {"x-a": "2"}, "remove": ["x-b"]}
                ),
            ]
        )
    )
    api = compiled.api_by_route[("provider", "weather")]
    assert api.policies.max_body_bytes == 1000
    assert not api.policies.admits_ip("10.1.2.3")
    assert api.policies.admits_ip("127.0.0.1")
    grant = compiled.grants_by_application["app_1"]["api_w"]
    assert grant.policies.max_body_bytes == 10
    assert dict(grant.policies.set_headers) == {"x-a": "2"}
    assert grant.policies.remove_headers == {"x-b"}
    other = compiled.api_by_route[("other", "toolbox")]
    assert other.policies.max_body_bytes is None


def test_inconsistent_snapshot_is_refused() -> None:
    with pytest.raises(SnapshotError, match="sub_x"):
        compile_snapshot(
            _snapshot(
                subscriptions=[
                    SubscriptionEntry(
                        id="sub_x", application_id="app_1", api_id="api_w", plan_id="nope"
                    )
                ]
            )
        )
    with pytest.raises(SnapshotError, match="upstream URL"):
        compile_snapshot(_snapshot(upstream="ftp://example.com"))
