"""Gateway tokens (created once, listed, revoked, audited) and the sync endpoints they open."""

from __future__ import annotations

import httpx

from stoa.contract import sync
from support.world import World


def _gateway(world: World, token: str, instance: str | None = "gwi_test") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    if instance is not None:
        headers[sync.INSTANCE_HEADER] = instance
        headers[sync.NAME_HEADER] = "edge-1"
        headers[sync.VERSION_HEADER] = "9.9.9"
        headers[sync.ADDRESS_HEADER] = "http://edge-1:8080"
    client = httpx.Client(base_url=world.base_url, headers=headers, timeout=30)
    world._clients.append(client)
    return client


def test_gateway_token_is_shown_once_listed_by_prefix_and_revoked_once(world: World) -> None:
    admin = world.platform_admin()
    created = admin.post("/v1/gateway-tokens", json={"name": "edge-paris-1"})
    assert created.status_code == 201, created.text
    issued = created.json()
    assert issued["secret"].startswith("stoa_gw_")
    assert issued["secret"].startswith(issued["prefix"])

    listed = admin.get("/v1/gateway-tokens").json()["items"]
    assert [(t["id"], t["name"], t["status"]) for t in listed] == [
        (issued["id"], "edge-paris-1", "active")
    ]
    assert "secret" not in listed[0]
    assert "digest" not in listed[0]

    revoked = admin.post(f"/v1/gateway-tokens/{issued['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert admin.post(f"/v1/gateway-tokens/{issued['id']}/revoke").status_code == 409
    assert admin.get("/v1/gateway-tokens", params={"status": "active"}).json()["items"] == []

    audit = admin.get("/v1/audit", params={"target_id": issued["id"]}).json()["items"]
    assert sorted(e["action"] for e in audit) == ["gateway_token.create", "gateway_token.revoke"]
    assert issued["secret"] not in str(audit)


def test_only_platform_admins_manage_gateway_tokens_and_see_the_fleet(world: World) -> None:
    tenant_admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    assert tenant_admin.post("/v1/gateway-tokens", json={"name": "x"}).status_code == 403
    assert tenant_admin.get("/v1/gateway-tokens").status_code == 403
    assert tenant_admin.get("/v1/gateways").status_code == 403
    # A non-admin access token does not open the snapshot either.
    assert tenant_admin.get("/v1/snapshot").status_code == 403


def test_bad_gateway_token_requests_get_clear_4xx(world: World) -> None:
    admin = world.platform_admin()
    assert admin.post("/v1/gateway-tokens", json={"name": ""}).status_code == 422
    assert admin.post("/v1/gateway-tokens", json={"name": "x", "extra": 1}).status_code == 422
    assert admin.post("/v1/gateway-tokens/gtk_nope/revoke").status_code == 404
    token = admin.post("/v1/gateway-tokens", json={"name": "edge"}).json()["secret"]
    gateway = _gateway(world, token)
    assert gateway.get("/v1/snapshot/hash", params={"after": "nothex"}).status_code == 422
    assert gateway.get("/v1/snapshot/hash", params={"wait": 3600}).status_code == 422
    bad_instance = gateway.get("/v1/snapshot", headers={sync.INSTANCE_HEADER: "a b"})
    assert bad_instance.status_code == 422
    assert bad_instance.headers["content-type"] == "application/problem+json"
    refusal = gateway.post("/v1/snapshot/refusals", json={"hash": "0" * 64})
    assert refusal.status_code == 422


def test_gateway_token_reads_the_snapshot_until_it_is_revoked(world: World) -> None:
    admin = world.platform_admin()
    issued = admin.post("/v1/gateway-tokens", json={"name": "edge"}).json()
    gateway = _gateway(world, issued["secret"])

    snapshot = gateway.get("/v1/snapshot")
    assert snapshot.status_code == 200
    digest = snapshot.headers[sync.HASH_HEADER]
    assert snapshot.json()["secrets"] is not None

    # Nothing changed: the long poll answers the same hash when its wait is over.
    unchanged = gateway.get("/v1/snapshot/hash", params={"after": digest, "wait": 0.3})
    assert unchanged.json() == {"hash": digest}
    # A hash the gateway does not have is answered at once.
    other = gateway.get("/v1/snapshot/hash", params={"after": "0" * 64, "wait": 30})
    assert other.json() == {"hash": digest}

    admin.post(f"/v1/gateway-tokens/{issued['id']}/revoke")
    assert gateway.get("/v1/snapshot").status_code == 401
    assert gateway.get("/v1/snapshot/hash").status_code == 401
    assert _gateway(world, "stoa_gw_made-up").get("/v1/snapshot").status_code == 401


def test_long_poll_answers_when_a_change_is_made_through_the_api(world: World) -> None:
    admin = world.platform_admin()
    gateway = _gateway(world, admin.post("/v1/gateway-tokens", json={"name": "e"}).json()["secret"])
    world.tenant("acme")
    before = gateway.get("/v1/snapshot").headers[sync.HASH_HEADER]
    admin.post("/v1/tenants/acme/plans", json={"name": "gold"}).raise_for_status()
    changed = gateway.get("/v1/snapshot/hash", params={"after": before, "wait": 30})
    assert changed.json()["hash"] != before
    snapshot = gateway.get("/v1/snapshot")
    assert changed.json()["hash"] == snapshot.headers[sync.HASH_HEADER]
    assert [p["name"] for p in snapshot.json()["plans"]] == ["gold"]


def test_fleet_lists_each_gateway_with_the_hash_it_serves(world: World) -> None:
    admin = world.platform_admin()
    token = admin.post("/v1/gateway-tokens", json={"name": "eu"}).json()
    first, second = (
        _gateway(world, token["secret"], "gwi_one"),
        _gateway(world, token["secret"], "gwi_two"),
    )
    latest = first.get("/v1/snapshot").headers[sync.HASH_HEADER]
    first.get("/v1/snapshot/hash", headers={sync.SERVED_HEADER: latest})
    second.get("/v1/snapshot/hash", headers={sync.SERVED_HEADER: "1" * 64})
    second.post(
        "/v1/snapshot/refusals",
        json={"hash": "2" * 64, "reason": "upstream URL 'ftp://x' must be http"},
        headers={sync.SERVED_HEADER: "1" * 64},
    ).raise_for_status()

    page = admin.get("/v1/gateways", params={"limit": 1})
    assert page.status_code == 200
    items = page.json()["items"]
    cursor = page.json()["next_cursor"]
    assert cursor is not None
    items += admin.get("/v1/gateways", params={"limit": 1, "cursor": cursor}).json()["items"]
    by_status = {g["status"]: g for g in items}
    assert set(by_status) == {"in_sync", "behind"}
    in_sync, behind = by_status["in_sync"], by_status["behind"]
    assert in_sync["served_hash"] == in_sync["latest_hash"] == latest
    assert (in_sync["name"], in_sync["version"], in_sync["address"]) == (
        "edge-1",
        "9.9.9",
        "http://edge-1:8080",
    )
    assert in_sync["token_id"] == token["id"]
    assert in_sync["refused"] is None
    assert behind["served_hash"] == "1" * 64
    assert behind["refused"]["hash"] == "2" * 64
    assert "ftp://x" in behind["refused"]["reason"]
