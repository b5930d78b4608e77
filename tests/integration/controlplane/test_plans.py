"""Plans through the real API, on SQLite and PostgreSQL."""

from __future__ import annotations

from support.seed_plan import audit_trail, plan, subscription
from support.world import World

PLANS = "/v1/tenants/acme/plans"


def test_devops_creates_finds_and_changes_plans(world: World) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    created = devops.post(
        PLANS,
        json={
            "name": "gold",
            "description": "For partners",
            "rate_per_second": 2.5,
            "per_minute": 100,
            "per_day": 10_000,
            "tool_allowlist": ["getForecast", "echo", "getForecast"],
        },
    )
    assert created.status_code == 201, created.text
    gold = created.json()
    assert gold["burst"] == 3  # the rate's ceiling when no burst is given
    assert (gold["per_month"], gold["requires_approval"]) == (None, False)
    assert gold["tool_allowlist"] == ["getForecast", "echo"]
    devops.post(PLANS, json={"name": "free", "per_day": 100})
    devops.post(PLANS, json={"name": "partner", "requires_approval": True})

    first = devops.get(PLANS, params={"limit": 2}).json()
    assert [p["name"] for p in first["items"]] == ["gold", "free"]
    rest = devops.get(PLANS, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [p["name"] for p in rest["items"]] == ["partner"]
    approval = devops.get(PLANS, params={"requires_approval": True}).json()["items"]
    assert [p["name"] for p in approval] == ["partner"]
    assert [p["name"] for p in devops.get(PLANS, params={"q": "PARTNERS"}).json()["items"]] == [
        "gold"
    ]
    assert devops.get(f"{PLANS}/gold").json()["id"] == gold["id"]

    # A new rate without a burst resets the burst; a null limit becomes unlimited.
    changed = devops.patch(
        f"{PLANS}/gold", json={"name": "platinum", "rate_per_second": 10, "per_minute": None}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["burst"], body["per_minute"]) == ("platinum", 10, None)
    assert (body["per_day"], body["description"]) == (10_000, "For partners")
    assert devops.get(f"{PLANS}/gold").status_code == 404
    no_rate = devops.patch(f"{PLANS}/platinum", json={"rate_per_second": None}).json()
    assert (no_rate["rate_per_second"], no_rate["burst"]) == (None, None)

    trail = audit_trail(world, gold["id"])
    assert [e.action for e in trail] == ["plan.create", "plan.update", "plan.update"]
    assert (trail[1].before["name"], trail[1].after["name"]) == ("gold", "platinum")
    assert trail[0].actor_id == devops.user_id


def test_inconsistent_or_malformed_limits_say_what_to_fix_and_write_nothing(
    world: World,
) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    refusals = {
        "burst needs rate_per_second": {"name": "a", "burst": 5},
        "per_minute (100) must not exceed per_day (50)": {
            "name": "a",
            "per_minute": 100,
            "per_day": 50,
        },
        "per_day (500) must not exceed per_month (400)": {
            "name": "a",
            "per_day": 500,
            "per_month": 400,
        },
        "per_minute (9) must not exceed per_month (8)": {
            "name": "a",
            "per_minute": 9,
            "per_month": 8,
        },
        "use null for all tools, or list at least one": {"name": "a", "tool_allowlist": []},
        "'get forecast' is not a tool name": {"name": "a", "tool_allowlist": ["get forecast"]},
        "rate_per_second: Input should be greater than 0": {"name": "a", "rate_per_second": 0},
        "per_month: Input should be less than or equal to 2147483647": {
            "name": "a",
            "per_month": 2**31,
        },
        "name: String should match pattern": {"name": "Gold Plan"},
        "tenant_id: Extra inputs are not permitted": {"name": "a", "tenant_id": "ten_x"},
    }
    for expected, body in refusals.items():
        response = devops.post(PLANS, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert expected in response.json()["detail"], (body, response.json()["detail"])
    assert devops.get(PLANS).json()["items"] == []

    devops.post(PLANS, json={"name": "free", "per_minute": 10, "per_day": 100})
    devops.post(PLANS, json={"name": "gold"})
    lowered = devops.patch(f"{PLANS}/free", json={"per_day": 5})
    assert lowered.status_code == 422
    assert "per_minute (10) must not exceed per_day (5)" in lowered.json()["detail"]
    assert devops.patch(f"{PLANS}/free", json={"name": None}).status_code == 422
    taken = devops.patch(f"{PLANS}/free", json={"name": "gold"})
    assert taken.status_code == 409
    assert "gold" in taken.json()["detail"]
    assert devops.post(PLANS, json={"name": "gold"}).status_code == 409
    free = devops.get(f"{PLANS}/free").json()
    assert (free["name"], free["per_day"]) == ("free", 100)
    assert [p["name"] for p in devops.get(PLANS).json()["items"]] == ["free", "gold"]


def test_plans_held_by_subscriptions_stay_and_others_go_with_their_policies(
    world: World,
) -> None:
    admin = world.user("admin@acme.test", tenant="acme", roles=["tenant-admin"])
    held = plan(world, "acme", name="held")
    subscription(world, "acme", held, status="suspended")
    refused = admin.delete(f"{PLANS}/held")
    assert refused.status_code == 409
    assert "1 live subscription" in refused.json()["detail"]

    retired = plan(world, "acme", name="retired")
    subscription(world, "acme", retired, status="revoked")
    subscription(world, "acme", retired, status="rejected")
    history = admin.delete(f"{PLANS}/retired")
    assert history.status_code == 409
    assert "subscription history (2 revoked or rejected" in history.json()["detail"]
    assert "rename it" in history.json()["detail"]

    unused = plan(world, "acme", name="unused", per_day=10)
    attached = admin.post(
        "/v1/tenants/acme/policies",
        json={
            "name": "small-bodies",
            "kind": "body_size",
            "target": {"type": "plan", "name": "unused"},
            "config": {"max_bytes": 1024},
        },
    ).json()
    assert admin.delete(f"{PLANS}/unused").status_code == 204
    assert admin.get(f"{PLANS}/unused").status_code == 404
    assert admin.get("/v1/tenants/acme/policies/small-bodies").status_code == 404
    assert [p["name"] for p in admin.get(PLANS).json()["items"]] == ["held", "retired"]
    assert [e.action for e in audit_trail(world, unused)] == ["plan.delete"]
    assert [e.action for e in audit_trail(world, attached["id"])] == [
        "policy.create",
        "policy.delete",
    ]


def test_who_may_read_change_and_delete_plans(world: World) -> None:
    plan(world, "acme", name="free")
    plan(world, "globex", name="secret")
    developer = world.user("dev@acme.test", tenant="acme")
    viewer = world.user("viewer@acme.test", tenant="acme", roles=["viewer"])
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    admin = world.user("admin@acme.test", tenant="acme", roles=["tenant-admin"])
    root = world.platform_admin()

    refused = developer.get(PLANS)
    assert refused.status_code == 403
    assert "viewer" in refused.json()["detail"]
    assert developer.post(PLANS, json={"name": "mine"}).status_code == 403

    for reader in (viewer, devops, admin, root):
        assert [p["name"] for p in reader.get(PLANS).json()["items"]] == ["free"]
        assert reader.get(f"{PLANS}/free").status_code == 200
    assert viewer.post(PLANS, json={"name": "mine"}).status_code == 403
    assert viewer.patch(f"{PLANS}/free", json={"description": "x"}).status_code == 403

    assert devops.post(PLANS, json={"name": "ops"}).status_code == 201
    assert devops.patch(f"{PLANS}/free", json={"description": "by ops"}).status_code == 200
    not_allowed = devops.delete(f"{PLANS}/ops")
    assert not_allowed.status_code == 403
    assert "tenant-admin" in not_allowed.json()["detail"]
    assert admin.delete(f"{PLANS}/ops").status_code == 204

    # Another tenant's plans do not exist for acme's members, whatever their role.
    for outsider in (viewer, devops, admin):
        assert outsider.get("/v1/tenants/globex/plans").status_code == 404
        assert outsider.get("/v1/tenants/globex/plans/secret").status_code == 404
        assert outsider.delete("/v1/tenants/globex/plans/secret").status_code == 404
    assert root.post("/v1/tenants/globex/plans", json={"name": "rooted"}).status_code == 201
    assert root.delete("/v1/tenants/globex/plans/secret").status_code == 204
    assert [p["name"] for p in root.get("/v1/tenants/globex/plans").json()["items"]] == ["rooted"]
