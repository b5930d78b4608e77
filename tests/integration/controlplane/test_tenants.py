"""Tenants through the real API, on SQLite and PostgreSQL."""

from __future__ import annotations

from support.world import World


def test_platform_admin_creates_lists_and_reads_tenants(world: World) -> None:
    admin = world.platform_admin()
    created = admin.post("/v1/tenants", json={"slug": "acme", "name": "Acme"})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "active"
    admin.post("/v1/tenants", json={"slug": "globex", "name": "Globex"})

    listed = admin.get("/v1/tenants").json()
    assert [t["slug"] for t in listed["items"]] == ["acme", "globex"]
    assert admin.get("/v1/tenants/acme").json()["name"] == "Acme"


def test_tenant_list_is_paginated_with_a_cursor(world: World) -> None:
    admin = world.platform_admin()
    for index in range(5):
        admin.post("/v1/tenants", json={"slug": f"t{index}", "name": f"T{index}"})
    first = admin.get("/v1/tenants", params={"limit": 2}).json()
    assert [t["slug"] for t in first["items"]] == ["t0", "t1"]
    second = admin.get("/v1/tenants", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [t["slug"] for t in second["items"]] == ["t2", "t3"]
    last = admin.get("/v1/tenants", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [t["slug"] for t in last["items"]] == ["t4"]
    assert last["next_cursor"] is None


def test_duplicate_slug_is_a_conflict_and_writes_nothing(world: World) -> None:
    admin = world.platform_admin()
    admin.post("/v1/tenants", json={"slug": "acme", "name": "Acme"})
    again = admin.post("/v1/tenants", json={"slug": "acme", "name": "Other"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "acme" in again.json()["detail"]
    assert len(admin.get("/v1/tenants").json()["items"]) == 1


def test_invalid_slug_says_what_to_fix(world: World) -> None:
    admin = world.platform_admin()
    response = admin.post("/v1/tenants", json={"slug": "Bad Slug!", "name": "x"})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "slug"
    assert "pattern" in body["detail"]


def test_tenant_admin_sees_only_their_tenant(world: World) -> None:
    world.tenant("globex")
    acme_admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    assert [t["slug"] for t in acme_admin.get("/v1/tenants").json()["items"]] == ["acme"]
    assert acme_admin.get("/v1/tenants/globex").status_code == 404
    assert acme_admin.post("/v1/tenants", json={"slug": "new", "name": "N"}).status_code == 403


def test_only_platform_admin_changes_status_and_deletion_needs_archiving(world: World) -> None:
    admin = world.platform_admin()
    world.tenant("acme")
    acme_admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    assert acme_admin.patch("/v1/tenants/acme", json={"status": "suspended"}).status_code == 403
    assert acme_admin.patch("/v1/tenants/acme", json={"name": "ACME Corp"}).status_code == 200

    assert admin.delete("/v1/tenants/acme").status_code == 409
    archived = admin.patch("/v1/tenants/acme", json={"status": "archived"})
    assert archived.json()["status"] == "archived"
    assert admin.delete("/v1/tenants/acme").status_code == 204
    assert admin.get("/v1/tenants/acme").status_code == 404


def test_requests_without_a_valid_token_are_refused(world: World) -> None:
    admin = world.platform_admin()
    anonymous = world.anonymous()
    assert anonymous.get("/v1/tenants").status_code == 401
    bad = anonymous.get("/v1/tenants", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"
    expired = world.token(admin.user_id, tenant=None, roles=["cpi-admin"], now=1_000_000)
    response = anonymous.get("/v1/tenants", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    wrong_audience = world.token(
        admin.user_id, tenant=None, roles=["cpi-admin"], audience="https://elsewhere.example"
    )
    response = anonymous.get("/v1/tenants", headers={"Authorization": f"Bearer {wrong_audience}"})
    assert response.status_code == 401
    assert "audience" in response.json()["detail"]


def test_health_readiness_and_metrics_need_no_token(world: World) -> None:
    anonymous = world.anonymous()
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    assert anonymous.get("/readyz").json()["status"] == "ready"
    anonymous.get("/v1/tenants")
    metrics = anonymous.get("/metrics").text
    counted = 'method="GET",route="/v1/tenants",status_class="4xx"'
    assert f"stoa_controlplane_requests_total{{{counted}}}" in metrics
