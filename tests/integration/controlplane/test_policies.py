"""Policies through the real API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from stoa.contract.snapshot import decode_snapshot
from support.seed_plan import api, audit_trail, plan
from support.world import Caller, World

POLICIES = "/v1/tenants/acme/policies"


def _policy(name: str, kind: str, target: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "kind": kind, "target": target, "config": config}


def test_devops_attaches_policies_to_the_tenant_an_api_and_a_plan(world: World) -> None:
    weather = api(world, "acme", "weather")
    free = plan(world, "acme", name="free")
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])

    office = devops.post(
        POLICIES,
        json=_policy(
            "office-only",
            "ip_filter",
            {"type": "api", "name": "weather"},
            {"allow": ["203.0.113.0/24", "2001:DB8:0:0::/32", "198.51.100.7"]},
        ),
    )
    assert office.status_code == 201, office.text
    body = office.json()
    assert body["target"] == {"type": "api", "id": weather, "name": "weather"}
    assert body["config"] == {
        "allow": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"],
        "deny": [],
    }
    assert body["enabled"] is True

    tools = devops.post(
        POLICIES,
        json=_policy(
            "free-tools", "tool_filter", {"type": "plan", "name": "free"}, {"deny": ["delete"]}
        ),
    ).json()
    assert tools["target"] == {"type": "plan", "id": free, "name": "free"}
    assert tools["config"] == {"allow": None, "deny": ["delete"]}
    headers = devops.post(
        POLICIES,
        json={
            **_policy("tag-tenant", "headers", {"type": "tenant"}, {"set": {"X-Tenant": " acme "}}),
            "enabled": False,
        },
    ).json()
    tenant_id = world.tenant_id("acme")
    assert headers["target"] == {"type": "tenant", "id": tenant_id, "name": "acme"}
    assert headers["config"] == {"set": {"x-tenant": "acme"}, "remove": []}

    def names(**params: Any) -> list[str]:
        return [p["name"] for p in devops.get(POLICIES, params=params).json()["items"]]

    assert names() == ["office-only", "free-tools", "tag-tenant"]
    assert names(kind="tool_filter") == ["free-tools"]
    assert names(target_type="api") == ["office-only"]
    assert names(target_id=tenant_id) == ["tag-tenant"]
    assert names(enabled=False) == ["tag-tenant"]
    assert names(limit=1, cursor=office.json()["id"]) == ["free-tools"]
    assert devops.get(f"{POLICIES}/office-only").json() == body

    duplicate = devops.post(
        POLICIES, json=_policy("office-only", "body_size", {"type": "tenant"}, {"max_bytes": 1})
    )
    assert duplicate.status_code == 409
    assert "office-only" in duplicate.json()["detail"]
    created = audit_trail(world, body["id"])
    assert [(e.action, e.after["kind"]) for e in created] == [("policy.create", "ip_filter")]


def test_targets_must_exist_in_the_policys_own_tenant(world: World) -> None:
    api(world, "globex", "billing")
    plan(world, "globex", name="gold")
    api(world, "acme", "weather")
    plan(world, "acme", name="free")
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    limit = {"max_bytes": 1024}
    refusals = {
        "target api billing does not exist in tenant acme": {"type": "api", "name": "billing"},
        "target plan gold does not exist in tenant acme": {"type": "plan", "name": "gold"},
        "can only target tenant acme itself": {"type": "tenant", "name": "globex"},
        'name the api this policy applies to, e.g. {"type": "api"': {"type": "api"},
        "target.type: Input should be 'tenant', 'api' or 'plan'": {"type": "gateway"},
    }
    for expected, target in refusals.items():
        response = devops.post(POLICIES, json=_policy("limit", "body_size", target, limit))
        assert response.status_code == 422, (target, response.text)
        assert expected in response.json()["detail"], (target, response.json()["detail"])

    cors_on_plan = devops.post(
        POLICIES,
        json=_policy(
            "browsers",
            "cors",
            {"type": "plan", "name": "free"},
            {"allow_origins": ["https://app.example.com"]},
        ),
    )
    assert cors_on_plan.status_code == 422
    assert "preflight" in cors_on_plan.json()["detail"]
    assert devops.get(POLICIES).json()["items"] == []


def test_invalid_configs_name_the_field_to_fix_and_write_nothing(world: World) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    tenant = {"type": "tenant"}
    cases = [
        (
            _policy("p", "ip_filter", tenant, {"deny": ["10.0.0.1/8"]}),
            "ip_filter.config.deny.0",
            "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?",
        ),
        (
            _policy("p", "cors", tenant, {"allow_origins": ["*"], "allow_credentials": True}),
            "cors.config",
            'allow_origins "*" cannot be combined with allow_credentials',
        ),
        (
            _policy("p", "headers", tenant, {"set": {"Authorization": "Bearer x"}}),
            "headers.config.set.Authorization",
            "header authorization cannot be set or removed by a policy",
        ),
        (
            _policy("p", "body_size", tenant, {"max_bytes": 200 * 1024 * 1024}),
            "body_size.config.max_bytes",
            "less than or equal to 104857600",
        ),
        (
            _policy("p", "rate_limit", tenant, {}),
            "body",
            "'ip_filter', 'cors', 'body_size', 'headers', 'tool_filter'",
        ),
    ]
    for body, field, message in cases:
        response = devops.post(POLICIES, json=body)
        assert response.status_code == 422, (body, response.text)
        problem = response.json()
        assert problem["errors"][0]["field"].startswith(field), problem
        assert message in problem["detail"], problem
    assert devops.get(POLICIES).json()["items"] == []


def _snapshot_policies(root: Caller) -> list[Any]:
    snapshot = decode_snapshot(root.get("/v1/snapshot").content)
    return [(p.id, p.config) for p in snapshot.policies]


def test_changing_a_policy_keeps_its_kind_and_target_and_reaches_the_snapshot(
    world: World,
) -> None:
    api(world, "acme", "weather")
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    root = world.platform_admin()
    created = devops.post(
        POLICIES,
        json=_policy(
            "browsers",
            "cors",
            {"type": "api", "name": "weather"},
            {"allow_origins": ["https://App.Example.com:443"]},
        ),
    ).json()
    devops.post(POLICIES, json=_policy("other", "body_size", {"type": "tenant"}, {"max_bytes": 9}))
    assert (created["id"], created["config"]) in _snapshot_policies(root)
    assert created["config"]["allow_origins"] == ["https://app.example.com"]

    path = f"{POLICIES}/browsers"
    changed = devops.patch(
        path,
        json={
            "name": "web-app",
            "config": {"allow_origins": ["http://localhost:3000"], "allow_credentials": True},
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["kind"], body["target"]["name"]) == ("web-app", "cors", "weather")
    assert body["config"]["allow_origins"] == ["http://localhost:3000"]
    assert body["config"]["allow_methods"] == ["GET", "HEAD", "POST"]

    wrong_kind = devops.patch(f"{POLICIES}/web-app", json={"config": {"max_bytes": 10}})
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["errors"][0]["field"] == "config.allow_origins"
    for immutable in ({"kind": "body_size"}, {"target": {"type": "tenant"}}):
        refused = devops.patch(f"{POLICIES}/web-app", json=immutable)
        assert refused.status_code == 422
        assert "Extra inputs are not permitted" in refused.json()["detail"]
    assert devops.patch(f"{POLICIES}/web-app", json={"name": "other"}).status_code == 409
    assert devops.get(f"{POLICIES}/web-app").json() == body

    disabled = devops.patch(f"{POLICIES}/web-app", json={"enabled": False}).json()
    assert disabled["enabled"] is False
    assert created["id"] not in [policy_id for policy_id, _ in _snapshot_policies(root)]

    trail = audit_trail(world, created["id"])
    assert [e.action for e in trail] == ["policy.create", "policy.update", "policy.update"]
    assert trail[1].before["config"]["allow_origins"] == ["https://app.example.com"]
    assert trail[1].after["config"]["allow_origins"] == ["http://localhost:3000"]


def test_who_may_read_change_and_delete_policies(world: World) -> None:
    api(world, "globex", "billing")
    developer = world.user("dev@acme.test", tenant="acme")
    viewer = world.user("viewer@acme.test", tenant="acme", roles=["viewer"])
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    admin = world.user("admin@acme.test", tenant="acme", roles=["tenant-admin"])
    stranger = world.user("admin@globex.test", tenant="globex", roles=["tenant-admin"])
    root = world.platform_admin()
    limit = _policy("limit", "body_size", {"type": "tenant"}, {"max_bytes": 1024})
    assert devops.post(POLICIES, json=limit).status_code == 201
    secret = stranger.post(
        "/v1/tenants/globex/policies",
        json=_policy("secret", "ip_filter", {"type": "api", "name": "billing"}, {"deny": ["::/0"]}),
    )
    assert secret.status_code == 201, secret.text

    refused = developer.get(POLICIES)
    assert refused.status_code == 403
    assert "viewer" in refused.json()["detail"]
    for reader in (viewer, devops, admin, root):
        assert [p["name"] for p in reader.get(POLICIES).json()["items"]] == ["limit"]
        assert reader.get(f"{POLICIES}/limit").status_code == 200
    for writer, allowed in ((developer, False), (viewer, False), (devops, True), (admin, True)):
        expected = 200 if allowed else 403
        assert writer.patch(f"{POLICIES}/limit", json={"enabled": True}).status_code == expected

    not_allowed = devops.delete(f"{POLICIES}/limit")
    assert not_allowed.status_code == 403
    assert "tenant-admin" in not_allowed.json()["detail"]
    assert admin.delete(f"{POLICIES}/limit").status_code == 204
    assert admin.get(f"{POLICIES}/limit").status_code == 404

    for outsider in (viewer, devops, admin):
        assert outsider.get("/v1/tenants/globex/policies").status_code == 404
        assert outsider.get("/v1/tenants/globex/policies/secret").status_code == 404
        assert (
            outsider.patch(
                "/v1/tenants/globex/policies/secret", json={"enabled": False}
            ).status_code
            == 404
        )
    assert root.delete("/v1/tenants/globex/policies/secret").status_code == 204
    assert stranger.get("/v1/tenants/globex/policies").json()["items"] == []
