"""Applications through the real API: ownership, tenant roles, deletion."""

from __future__ import annotations

from sqlalchemy import select

from stoa.controlplane.models import ApiKey, AuditEntry, Subscription
from support.seed_consumer import plan, published_api, rows
from support.world import World


def test_developer_creates_finds_renames_and_deletes_an_application(world: World) -> None:
    dev = world.user("dev@acme.test", tenant="acme")
    created = dev.post("/v1/applications", json={"name": "Weather bot", "description": "cron"})
    assert created.status_code == 201, created.text
    app = created.json()
    assert (app["owner_id"], app["tenant_id"]) == (dev.user_id, world.tenant_id("acme"))
    dev.post("/v1/applications", json={"name": "Billing agent"})

    duplicate = dev.post("/v1/applications", json={"name": "Weather bot"})
    assert duplicate.status_code == 409
    assert "Weather bot" in duplicate.json()["detail"]
    names = [a["name"] for a in dev.get("/v1/applications").json()["items"]]
    assert names == ["Weather bot", "Billing agent"]
    found = dev.get("/v1/applications", params={"q": "WEATHER"}).json()["items"]
    assert [a["id"] for a in found] == [app["id"]]

    renamed = dev.patch(f"/v1/applications/{app['id']}", json={"name": "Forecast bot"})
    assert renamed.json()["name"] == "Forecast bot"
    assert renamed.json()["description"] == "cron"
    clash = dev.patch(f"/v1/applications/{app['id']}", json={"name": "Billing agent"})
    assert clash.status_code == 409
    assert dev.get(f"/v1/applications/{app['id']}").json()["name"] == "Forecast bot"

    assert dev.delete(f"/v1/applications/{app['id']}").status_code == 204
    assert dev.get(f"/v1/applications/{app['id']}").status_code == 404


def test_invalid_application_input_says_what_to_fix_and_writes_nothing(world: World) -> None:
    dev = world.user("dev@acme.test", tenant="acme")
    blank = dev.post("/v1/applications", json={"name": "   "})
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["field"] == "name"
    unknown = dev.post("/v1/applications", json={"name": "ok", "owner_id": "usr_someone"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "owner_id"
    assert dev.get("/v1/applications").json()["items"] == []


def test_who_sees_and_manages_an_application(world: World) -> None:
    owner = world.user("owner@acme.test", tenant="acme")
    app_id = owner.post("/v1/applications", json={"name": "bot"}).json()["id"]
    path = f"/v1/applications/{app_id}"
    colleague = world.user("colleague@acme.test", tenant="acme")
    viewer = world.user("viewer@acme.test", tenant="acme", roles=["viewer"])
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    admin = world.user("admin@acme.test", tenant="acme", roles=["tenant-admin"])
    stranger = world.user("admin@globex.test", tenant="globex", roles=["tenant-admin"])
    stranger_app = stranger.post("/v1/applications", json={"name": "bot"}).json()
    root = world.platform_admin()

    # A developer without roles sees only their own applications.
    assert colleague.get(path).status_code == 404
    assert colleague.patch(path, json={"name": "mine"}).status_code == 404
    assert colleague.get("/v1/applications").json()["items"] == []
    # Viewers and devops read the tenant's applications but may not change them.
    for reader in (viewer, devops):
        assert reader.get(path).status_code == 200
        assert [a["id"] for a in reader.get("/v1/applications").json()["items"]] == [app_id]
        refused = reader.patch(path, json={"name": "theirs"})
        assert refused.status_code == 403
        assert "tenant-admin" in refused.json()["detail"]
        assert reader.delete(path).status_code == 403
    # The tenant-admin manages it; another tenant's admin cannot know it exists.
    assert admin.patch(path, json={"description": "checked"}).status_code == 200
    assert stranger.get(path).status_code == 404
    assert stranger.delete(path).status_code == 404
    assert [a["id"] for a in stranger.get("/v1/applications").json()["items"]] == [
        stranger_app["id"]
    ]
    # cpi-admin sees every tenant's, and can narrow the list to one owner.
    assert len(root.get("/v1/applications").json()["items"]) == 2
    owned = root.get("/v1/applications", params={"owner": owner.user_id}).json()["items"]
    assert [(a["id"], a["description"]) for a in owned] == [(app_id, "checked")]
    assert owner.get(path).json()["name"] == "bot"


def test_deleting_an_application_revokes_its_subscriptions_and_keys_on_record(
    world: World,
) -> None:
    api_id = published_api(world, "provider", "weather")
    plan(world, "provider", "free")
    dev = world.user("dev@consumer.test", tenant="consumer")
    app_id = dev.post("/v1/applications", json={"name": "bot"}).json()["id"]
    subscription = dev.post(
        "/v1/subscriptions",
        json={
            "application_id": app_id,
            "api": {"tenant": "provider", "name": "weather"},
            "plan": "free",
        },
    ).json()
    key = dev.post(f"/v1/applications/{app_id}/keys", json={"name": "ci"}).json()

    assert dev.delete(f"/v1/applications/{app_id}").status_code == 204

    assert rows(world, select(Subscription).where(Subscription.api_id == api_id)) == []
    assert rows(world, select(ApiKey).where(ApiKey.application_id == app_id)) == []
    entries = {
        entry.action: entry
        for entry in rows(world, select(AuditEntry).where(AuditEntry.actor_id == dev.user_id))
    }
    revoked = entries["subscription.revoke"]
    assert revoked.target_id == subscription["id"]
    assert revoked.tenant_id == world.tenant_id("provider")
    assert revoked.after["status"] == "revoked"
    assert entries["api_key.revoke"].target_id == key["id"]
    assert entries["application.delete"].before["name"] == "bot"
