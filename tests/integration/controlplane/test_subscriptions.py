"""Subscriptions through the real API: across tenants, approval, lifecycle, visibility."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from stoa.controlplane.models import AuditEntry
from support.seed_consumer import plan, published_api, rows
from support.world import Caller, World


def _subscribe(
    caller: Caller, app_id: str, api: str, plan_name: str, tenant: str = "provider"
) -> httpx.Response:
    return caller.post(
        "/v1/subscriptions",
        json={"application_id": app_id, "api": {"tenant": tenant, "name": api}, "plan": plan_name},
    )


def _app(caller: Caller, name: str = "bot") -> str:
    response = caller.post("/v1/applications", json={"name": name})
    assert response.status_code == 201, response.text
    app_id: str = response.json()["id"]
    return app_id


def test_cross_tenant_subscription_waits_for_the_providers_approval(world: World) -> None:
    published_api(world, "provider", "weather")
    plan(world, "provider", "gold", requires_approval=True)
    dev = world.user("dev@consumer.test", tenant="consumer")
    consumer_admin = world.user("admin@consumer.test", tenant="consumer", roles=["tenant-admin"])
    provider_admin = world.user("admin@provider.test", tenant="provider", roles=["tenant-admin"])
    provider_viewer = world.user("viewer@provider.test", tenant="provider", roles=["viewer"])
    app_id = _app(dev)

    created = _subscribe(dev, app_id, "weather", "gold")
    assert created.status_code == 201, created.text
    subscription: dict[str, Any] = created.json()
    assert subscription["status"] == "pending"
    assert subscription["application"] == {"id": app_id, "name": "bot"}
    assert (subscription["api"]["tenant"], subscription["api"]["name"]) == ("provider", "weather")
    assert subscription["plan"]["name"] == "gold"
    approve = f"/v1/subscriptions/{subscription['id']}/approve"

    # The consumer side sees it but cannot approve its own request.
    assert consumer_admin.get(f"/v1/subscriptions/{subscription['id']}").status_code == 200
    for consumer in (dev, consumer_admin):
        refused = consumer.post(approve)
        assert refused.status_code == 403
        assert "API's tenant" in refused.json()["detail"]
    assert provider_viewer.post(approve).status_code == 403
    # The provider's admin finds it waiting and approves it.
    waiting = provider_admin.get("/v1/subscriptions", params={"status": "pending"}).json()
    assert [s["id"] for s in waiting["items"]] == [subscription["id"]]
    approved = provider_admin.post(approve, json={"reason": "welcome"})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["reason"]) == ("active", "welcome")
    assert dev.get(f"/v1/subscriptions/{subscription['id']}").json()["status"] == "active"

    # Both steps are on the provider's audit record.
    entries = rows(
        world,
        select(AuditEntry)
        .where(AuditEntry.target_id == subscription["id"])
        .order_by(AuditEntry.seq),
    )
    assert [(e.action, e.tenant_id) for e in entries] == [
        ("subscription.create", world.tenant_id("provider")),
        ("subscription.approve", world.tenant_id("provider")),
    ]


def test_plan_without_approval_activates_at_once_and_one_live_subscription_per_api(
    world: World,
) -> None:
    published_api(world, "provider", "weather")
    plan(world, "provider", "free")
    dev = world.user("dev@consumer.test", tenant="consumer")
    app_id = _app(dev)

    first = _subscribe(dev, app_id, "weather", "free")
    assert first.json()["status"] == "active"
    again = _subscribe(dev, app_id, "weather", "free")
    assert again.status_code == 409
    assert first.json()["id"] in again.json()["detail"]

    cancelled = dev.post(f"/v1/subscriptions/{first.json()['id']}/revoke")
    assert cancelled.json()["status"] == "revoked"
    renewed = _subscribe(dev, app_id, "weather", "free")
    assert renewed.status_code == 201
    assert renewed.json()["status"] == "active"
    statuses = [s["status"] for s in dev.get("/v1/subscriptions").json()["items"]]
    assert statuses == ["revoked", "active"]


def test_apis_not_offered_to_the_consumer_answer_not_found(world: World) -> None:
    published_api(world, "provider", "drafty", lifecycle="draft")
    published_api(world, "provider", "old", lifecycle="retired")
    published_api(world, "provider", "internal", visibility="tenant")
    published_api(world, "provider", "legacy", lifecycle="deprecated")
    published_api(world, "provider", "weather")
    published_api(world, "sleepy", "weather")
    plan(world, "provider", "free")
    plan(world, "provider", "gold")
    plan(world, "sleepy", "free")
    plan(world, "consumer", "house")
    root = world.platform_admin()
    root.patch("/v1/tenants/sleepy", json={"status": "suspended"})
    dev = world.user("dev@consumer.test", tenant="consumer")
    app_id = _app(dev)

    for api in ("drafty", "old", "internal", "nothing"):
        hidden = _subscribe(dev, app_id, api, "free")
        assert hidden.status_code == 404, api
        assert "does not exist or is not offered" in hidden.json()["detail"]
    assert _subscribe(dev, app_id, "weather", "free", tenant="sleepy").status_code == 404
    deprecated = _subscribe(dev, app_id, "legacy", "free")
    assert deprecated.status_code == 409
    assert "deprecated APIs accept no new subscriptions" in deprecated.json()["detail"]
    wrong_plan = _subscribe(dev, app_id, "weather", "house")
    assert wrong_plan.status_code == 422
    assert "choose one of: free, gold" in wrong_plan.json()["detail"]
    assert dev.get("/v1/subscriptions").json()["items"] == []


def test_a_tenant_api_is_offered_inside_its_own_tenant(world: World) -> None:
    published_api(world, "provider", "internal", visibility="tenant")
    published_api(world, "provider", "drafty", lifecycle="draft")
    plan(world, "provider", "free")
    dev = world.user("dev@provider.test", tenant="provider")
    devops = world.user("ops@provider.test", tenant="provider", roles=["devops"])
    app_id = _app(dev)
    ops_app = _app(devops)

    assert _subscribe(dev, app_id, "internal", "free").json()["status"] == "active"
    # The catalog's writers may know about drafts, so they learn why; developers do not.
    assert _subscribe(dev, app_id, "drafty", "free").status_code == 404
    draft = _subscribe(devops, ops_app, "drafty", "free")
    assert draft.status_code == 409
    assert "draft" in draft.json()["detail"]


def test_illegal_moves_name_the_current_status_and_the_allowed_ones(world: World) -> None:
    published_api(world, "provider", "weather")
    plan(world, "provider", "free")
    dev = world.user("dev@consumer.test", tenant="consumer")
    admin = world.user("admin@provider.test", tenant="provider", roles=["tenant-admin"])
    path = f"/v1/subscriptions/{_subscribe(dev, _app(dev), 'weather', 'free').json()['id']}"

    wrong = admin.post(f"{path}/approve")
    assert wrong.status_code == 409
    assert wrong.json()["detail"] == (
        "cannot approve a subscription that is active; allowed: suspend, revoke"
    )
    assert wrong.json()["allowed"] == ["suspend", "revoke"]
    suspended = admin.post(f"{path}/suspend", json={"reason": "unpaid invoice"})
    assert (suspended.json()["status"], suspended.json()["reason"]) == (
        "suspended",
        "unpaid invoice",
    )
    assert dev.post(f"{path}/resume").status_code == 403
    resumed = admin.post(f"{path}/resume")
    assert (resumed.json()["status"], resumed.json()["reason"]) == ("active", "")
    assert dev.get(path).json()["status"] == "active"
    assert admin.post(f"{path}/revoke", json={"reason": "abuse"}).json()["status"] == "revoked"
    final = admin.post(f"{path}/resume")
    assert final.status_code == 409
    assert "revoked is final" in final.json()["detail"]
    unknown = admin.post(f"{path}/revoke", json={"reason": "x", "extra": 1})
    assert unknown.status_code == 422


def test_only_the_providers_reviewers_change_the_plan(world: World) -> None:
    published_api(world, "provider", "weather")
    plan(world, "provider", "free")
    plan(world, "provider", "gold")
    plan(world, "consumer", "house")
    dev = world.user("dev@consumer.test", tenant="consumer")
    admin = world.user("admin@provider.test", tenant="provider", roles=["tenant-admin"])
    path = f"/v1/subscriptions/{_subscribe(dev, _app(dev), 'weather', 'free').json()['id']}"

    assert dev.patch(path, json={"plan": "gold"}).status_code == 403
    foreign = admin.patch(path, json={"plan": "house"})
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "plan"
    upgraded = admin.patch(path, json={"plan": "gold"})
    assert upgraded.status_code == 200
    assert dev.get(path).json()["plan"]["name"] == "gold"
    admin.post(f"{path}/revoke")
    assert admin.patch(path, json={"plan": "free"}).status_code == 409


def test_who_sees_which_subscriptions(world: World) -> None:
    published_api(world, "provider", "weather")
    published_api(world, "provider", "maps")
    plan(world, "provider", "free")
    plan(world, "provider", "gold", requires_approval=True)
    dev = world.user("dev@consumer.test", tenant="consumer")
    colleague = world.user("colleague@consumer.test", tenant="consumer")
    consumer_viewer = world.user("viewer@consumer.test", tenant="consumer", roles=["viewer"])
    provider_devops = world.user("ops@provider.test", tenant="provider", roles=["devops"])
    provider_dev = world.user("dev@provider.test", tenant="provider")
    outsider = world.user("admin@globex.test", tenant="globex", roles=["tenant-admin"])
    root = world.platform_admin()
    app_id = _app(dev)
    weather = _subscribe(dev, app_id, "weather", "free").json()
    maps = _subscribe(dev, app_id, "maps", "gold").json()
    colleague_app = _app(colleague)
    colleague_sub = _subscribe(colleague, colleague_app, "weather", "free").json()

    def listed(caller: Caller, **filters: str) -> list[str]:
        response = caller.get("/v1/subscriptions", params=filters)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    everything = [weather["id"], maps["id"], colleague_sub["id"]]
    assert listed(dev) == [weather["id"], maps["id"]]
    assert listed(colleague) == [colleague_sub["id"]]
    assert colleague.get(f"/v1/subscriptions/{weather['id']}").status_code == 404
    assert colleague.post(f"/v1/subscriptions/{weather['id']}/revoke").status_code == 404
    assert listed(consumer_viewer) == everything
    assert consumer_viewer.post(f"/v1/subscriptions/{weather['id']}/revoke").status_code == 403
    assert listed(provider_devops) == everything
    assert listed(provider_dev) == []
    assert listed(outsider) == []
    assert outsider.get(f"/v1/subscriptions/{weather['id']}").status_code == 404
    assert listed(root) == everything
    assert provider_devops.post(f"/v1/subscriptions/{maps['id']}/reject").status_code == 403
    rejected = root.post(f"/v1/subscriptions/{maps['id']}/reject", json={"reason": "no quota"})
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "no quota")
    assert dev.get(f"/v1/subscriptions/{maps['id']}").json()["reason"] == "no quota"

    assert listed(root, status="rejected") == [maps["id"]]
    assert listed(root, api="weather") == [weather["id"], colleague_sub["id"]]
    assert listed(root, tenant="provider", application_id=app_id) == [weather["id"], maps["id"]]
    assert listed(root, tenant="consumer") == []
    assert root.get("/v1/subscriptions", params={"status": "bogus"}).status_code == 422
