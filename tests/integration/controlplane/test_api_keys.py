"""API keys through the real API: shown once, stored as digests, rotated, revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from stoa.controlplane.models import ApiKey, AuditEntry
from stoa.kit.api_key import key_digest
from stoa.kit.platform_secrets import load_platform_secrets
from support.seed_consumer import rows
from support.world import Caller, World


def _app(caller: Caller) -> str:
    response = caller.post("/v1/applications", json={"name": "bot"})
    assert response.status_code == 201, response.text
    app_id: str = response.json()["id"]
    return app_id


def test_the_secret_is_shown_once_and_stored_only_as_a_digest(world: World) -> None:
    dev = world.user("dev@acme.test", tenant="acme")
    keys = f"/v1/applications/{_app(dev)}/keys"
    created = dev.post(keys, json={"name": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()
    secret = key["secret"]
    assert secret.startswith("stoa_sk_")
    assert secret.startswith(key["prefix"])
    assert len(key["prefix"]) < len(secret) - 20
    assert (key["name"], key["status"], key["expires_at"]) == ("ci", "active", None)

    listed = dev.get(keys)
    one = dev.get(f"{keys}/{key['id']}")
    assert [k["prefix"] for k in listed.json()["items"]] == [key["prefix"]]
    assert one.json()["status"] == "active"
    for response in (listed, one):
        assert secret not in response.text
        assert "secret" not in response.text

    [stored] = rows(world, select(ApiKey).where(ApiKey.id == key["id"]))
    hash_secret = load_platform_secrets(world.settings).key_hash_secret
    assert stored.digest == key_digest(hash_secret, secret)
    assert secret not in repr([getattr(stored, c.key) for c in ApiKey.__table__.columns])
    [entry] = rows(world, select(AuditEntry).where(AuditEntry.target_id == key["id"]))
    assert entry.action == "api_key.create"
    assert entry.after["prefix"] == key["prefix"]
    assert "digest" not in entry.after
    assert secret not in repr(entry.after)


def test_rotation_keeps_the_old_key_working_through_the_grace_period(world: World) -> None:
    dev = world.user("dev@acme.test", tenant="acme")
    keys = f"/v1/applications/{_app(dev)}/keys"
    old = dev.post(keys, json={"name": "ci"}).json()

    rotated = dev.post(f"{keys}/{old['id']}/rotate", json={"grace_seconds": 3600})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["secret"].startswith("stoa_sk_")
    assert new["secret"] != old["secret"]
    assert (new["name"], new["status"]) == ("ci", "active")
    assert new["replaces"]["id"] == old["id"]
    assert new["replaces"]["status"] == "rotating"
    grace_end = datetime.fromisoformat(new["replaces"]["expires_at"])
    assert timedelta(minutes=59) < grace_end - datetime.now(UTC) <= timedelta(hours=1)

    listed = {k["id"]: k for k in dev.get(keys).json()["items"]}
    assert {i: k["status"] for i, k in listed.items()} == {
        old["id"]: "rotating",
        new["id"]: "active",
    }
    assert listed[old["id"]]["replaced_by_id"] == new["id"]
    assert [k["id"] for k in dev.get(keys, params={"status": "rotating"}).json()["items"]] == [
        old["id"]
    ]
    again = dev.post(f"{keys}/{old['id']}/rotate")
    assert again.status_code == 409
    assert new["id"] in again.json()["detail"]

    # No grace: the replaced key expires at once.
    newest = dev.post(f"{keys}/{new['id']}/rotate", json={"grace_seconds": 0}).json()
    assert newest["replaces"]["status"] == "expired"
    assert dev.get(f"{keys}/{new['id']}").json()["status"] == "expired"
    too_long = dev.post(f"{keys}/{newest['id']}/rotate", json={"grace_seconds": 31 * 86400})
    assert too_long.status_code == 422
    assert len(dev.get(keys).json()["items"]) == 3


def test_revoking_stops_a_key_once_and_for_all(world: World) -> None:
    dev = world.user("dev@acme.test", tenant="acme")
    keys = f"/v1/applications/{_app(dev)}/keys"
    key = dev.post(keys, json={"name": "laptop"}).json()

    revoked = dev.post(f"{keys}/{key['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_at"] is not None
    twice = dev.post(f"{keys}/{key['id']}/revoke")
    assert twice.status_code == 409
    assert "already revoked" in twice.json()["detail"]
    rotate = dev.post(f"{keys}/{key['id']}/rotate")
    assert rotate.status_code == 409
    assert "create a new key" in rotate.json()["detail"]
    assert [k["status"] for k in dev.get(keys).json()["items"]] == ["revoked"]
    assert dev.get(keys, params={"status": "active"}).json()["items"] == []


def test_expiry_must_be_ahead_and_carry_a_time_zone(world: World) -> None:
    dev = world.user("dev@acme.test", tenant="acme")
    keys = f"/v1/applications/{_app(dev)}/keys"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = dev.post(keys, json={"name": "old", "expires_at": past})
    assert refused.status_code == 422
    assert "future" in refused.json()["detail"]
    naive = dev.post(keys, json={"name": "naive", "expires_at": "2999-01-01T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "expires_at"
    assert dev.get(keys).json()["items"] == []

    later = dev.post(keys, json={"name": "later", "expires_at": "2999-01-01T02:00:00+02:00"})
    assert later.status_code == 201
    assert datetime.fromisoformat(later.json()["expires_at"]) == datetime(2999, 1, 1, tzinfo=UTC)
    assert later.json()["status"] == "active"


def test_only_the_applications_managers_handle_its_keys(world: World) -> None:
    owner = world.user("owner@acme.test", tenant="acme")
    app_id = _app(owner)
    keys = f"/v1/applications/{app_id}/keys"
    key = owner.post(keys, json={"name": "ci"}).json()
    colleague = world.user("colleague@acme.test", tenant="acme")
    viewer = world.user("viewer@acme.test", tenant="acme", roles=["viewer"])
    admin = world.user("admin@acme.test", tenant="acme", roles=["tenant-admin"])
    stranger = world.user("admin@globex.test", tenant="globex", roles=["tenant-admin"])
    root = world.platform_admin()

    for outsider in (colleague, stranger):
        assert outsider.get(keys).status_code == 404
        assert outsider.get(f"{keys}/{key['id']}").status_code == 404
        assert outsider.post(keys, json={"name": "mine"}).status_code == 404
        assert outsider.post(f"{keys}/{key['id']}/revoke").status_code == 404
    assert [k["id"] for k in viewer.get(keys).json()["items"]] == [key["id"]]
    assert viewer.post(keys, json={"name": "mine"}).status_code == 403
    assert viewer.post(f"{keys}/{key['id']}/rotate").status_code == 403

    by_admin = admin.post(keys, json={"name": "ops"})
    assert by_admin.status_code == 201
    assert admin.post(f"{keys}/{key['id']}/revoke").json()["status"] == "revoked"
    assert root.post(f"{keys}/{by_admin.json()['id']}/rotate").status_code == 201
    assert root.get(f"/v1/applications/{app_id}/keys/key_unknown").status_code == 404
    statuses = sorted(k["status"] for k in owner.get(keys).json()["items"])
    assert statuses == ["active", "revoked", "rotating"]
