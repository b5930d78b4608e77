"""The audit log through the real API: what mutations record, who reads it, export and
verification of the hash chains, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Executable, delete, update

from stoa.controlplane.db import create_engine
from stoa.controlplane.models import AuditEntry
from support.world import Caller, World

EXPORT_COLUMNS = [
    "id",
    "chain",
    "seq",
    "at",
    "tenant_id",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "source_ip",
    "user_agent",
    "request_id",
    "before",
    "after",
    "prev_hash",
    "hash",
]


def execute(world: World, statement: Executable) -> None:
    """Change the database behind the API's back, as an intruder with database access would."""

    async def run() -> None:
        engine = create_engine(world.settings.resolved_database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(statement)
        finally:
            await engine.dispose()

    asyncio.run(run())


def entries(caller: Caller, **filters: Any) -> list[dict[str, Any]]:
    response = caller.get("/v1/audit", params={"limit": 200, **filters})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def create_user(caller: Caller, email: str, **extra: Any) -> str:
    response = caller.post("/v1/users", json={"email": email, "name": email, **extra})
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


def test_api_mutations_are_recorded_with_actor_target_changes_and_origin(world: World) -> None:
    root = world.platform_admin()
    origin = {"User-Agent": "audit-test/1.0", "X-Request-Id": "req-create-ada"}
    assert root.post("/v1/tenants", json={"slug": "acme", "name": "Acme"}).status_code == 201
    created = root.post(
        "/v1/users",
        json={"email": "ada@acme.test", "name": "Ada", "tenant": "acme", "password": "x" * 16},
        headers=origin,
    ).json()
    root.post(f"/v1/users/{created['id']}/roles", json={"role": "viewer"})
    root.patch(f"/v1/users/{created['id']}", json={"name": "Ada L."})

    log = entries(root)
    assert [e["action"] for e in log] == [
        "user.update",
        "role_binding.create",
        "user.create",
        "tenant.create",
    ]
    updated, bound, user_created, _tenant_created = log
    acme_id = user_created["tenant_id"]
    assert all(e["actor_id"] == root.user_id for e in log)
    assert all(e["actor_label"] == "root@platform.local" for e in log)
    assert all(e["chain"] == acme_id and e["source_ip"] == "127.0.0.1" for e in log)

    assert (user_created["target_type"], user_created["target_id"]) == ("user", created["id"])
    assert user_created["before"] is None
    assert user_created["after"]["email"] == "ada@acme.test"
    assert not any("hash" in key for key in user_created["after"])
    assert user_created["user_agent"] == "audit-test/1.0"
    assert user_created["request_id"] == "req-create-ada"

    assert bound["target_type"] == "role_binding"
    assert (bound["after"]["user_id"], bound["after"]["role"]) == (created["id"], "viewer")
    assert (updated["before"]["name"], updated["after"]["name"]) == ("Ada", "Ada L.")
    assert [e["seq"] for e in reversed(log)] == [1, 2, 3, 4]


def test_filters_and_cursor_narrow_the_log(world: World) -> None:
    root = world.platform_admin()
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    first = create_user(boss, "one@acme.test")
    create_user(boss, "two@acme.test", roles=["devops"])
    create_user(root, "ops@platform.test")
    boss.patch(f"/v1/users/{first}", json={"status": "disabled"})

    everything = entries(root)
    assert len(everything) == 5
    assert {e["actor_id"] for e in entries(root, actor=boss.user_id)} == {boss.user_id}
    assert len(entries(root, actor=boss.user_id)) == 4
    assert [e["action"] for e in entries(root, target_id=first)] == ["user.disable", "user.create"]
    assert [e["action"] for e in entries(root, target_type="role_binding")] == [
        "role_binding.create"
    ]
    assert len(entries(root, action="user.create")) == 3
    assert {e["chain"] for e in entries(root, tenant="acme")} == {world.tenant_id("acme")}
    assert [e["after"]["email"] for e in entries(root, tenant="acme", action="user.create")] == [
        "two@acme.test",
        "one@acme.test",
    ]

    newest_at = everything[0]["at"]
    assert [e["id"] for e in entries(root, since=newest_at)] == [everything[0]["id"]]
    assert everything[0]["id"] not in [e["id"] for e in entries(root, until=newest_at)]
    assert entries(root, since="2000-01-01T00:00:00", until="2000-01-02T00:00:00") == []
    backwards = root.get("/v1/audit", params={"since": newest_at, "until": "2000-01-01T00:00:00Z"})
    assert backwards.status_code == 422
    assert "since" in backwards.json()["detail"]
    assert root.get("/v1/audit", params={"since": "yesterday"}).status_code == 422
    assert root.get("/v1/audit", params={"tenant": "nope"}).status_code == 404

    paged: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = root.get("/v1/audit", params=params).json()
        paged += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [e["id"] for e in everything]


def test_only_admins_read_the_log_and_a_tenant_admin_only_their_tenant(world: World) -> None:
    root = world.platform_admin()
    acme_boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    globex_boss = world.user("boss@globex.test", tenant="globex", roles=["tenant-admin"])
    create_user(acme_boss, "a@acme.test")
    create_user(globex_boss, "g@globex.test")
    create_user(root, "ops@platform.test")

    acme_log = entries(acme_boss)
    assert [e["after"]["email"] for e in acme_log] == ["a@acme.test"]
    assert entries(acme_boss, tenant="acme") == acme_log
    assert acme_boss.get("/v1/audit", params={"tenant": "globex"}).status_code == 404
    assert acme_boss.get("/v1/audit/export", params={"tenant": "globex"}).status_code == 404
    exported = acme_boss.get("/v1/audit/export").text.splitlines()
    assert [json.loads(line)["after"]["email"] for line in exported] == ["a@acme.test"]
    chains = acme_boss.get("/v1/audit/verify").json()["chains"]
    assert [(c["tenant"], c["entries"]) for c in chains] == [("acme", 1)]

    for role in ("viewer", "devops"):
        member = world.user(f"{role}@acme.test", tenant="acme", roles=[role])
        refused = member.get("/v1/audit")
        assert refused.status_code == 403
        assert "tenant-admin" in refused.json()["detail"]
    developer = world.user("dev@acme.test", tenant="acme")
    for path in ("/v1/audit", "/v1/audit/export", "/v1/audit/verify"):
        response = developer.get(path)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    roleless_platform_user = world.user("nobody@platform.test")
    assert roleless_platform_user.get("/v1/audit").status_code == 403

    every = entries(root)
    assert {e["after"]["email"] for e in every} == {
        "a@acme.test",
        "g@globex.test",
        "ops@platform.test",
    }
    assert {e["chain"] for e in every} == {
        world.tenant_id("acme"),
        world.tenant_id("globex"),
        "platform",
    }


def test_export_streams_every_matching_entry_as_json_lines_or_csv(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so the export crosses batch boundaries (the server runs in-process).
    monkeypatch.setattr("stoa.controlplane.audit.service.EXPORT_BATCH", 2)
    root = world.platform_admin()
    ids = [create_user(root, f"user{i}@platform.test") for i in range(5)]
    root.patch(f"/v1/users/{ids[0]}", json={"name": "Renamed"})
    today = datetime.now(UTC).date().isoformat()

    jsonl = root.get("/v1/audit/export", params={"format": "jsonl"})
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert jsonl.headers["content-disposition"] == f'attachment; filename="audit-{today}.jsonl"'
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert list(rows[0]) == EXPORT_COLUMNS
    assert [r["target_id"] for r in rows[:5]] == ids
    assert (rows[5]["before"]["name"], rows[5]["after"]["name"]) == (
        "user0@platform.test",
        "Renamed",
    )
    assert rows[1]["prev_hash"] == rows[0]["hash"]

    exported = root.get("/v1/audit/export", params={"format": "csv", "action": "user.create"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"].endswith(f'filename="audit-{today}.csv"')
    reader = csv.DictReader(io.StringIO(exported.text))
    assert reader.fieldnames == EXPORT_COLUMNS
    records = list(reader)
    assert [r["target_id"] for r in records] == ids
    assert all(r["action"] == "user.create" and r["before"] == "" for r in records)
    assert json.loads(records[2]["after"])["email"] == "user2@platform.test"
    assert records[0]["hash"] == rows[0]["hash"]
    assert datetime.fromisoformat(records[0]["at"]) == datetime.fromisoformat(rows[0]["at"])

    assert root.get("/v1/audit/export", params={"format": "xml"}).status_code == 422
    empty = root.get("/v1/audit/export", params={"format": "csv", "action": "nothing.happened"})
    assert empty.text.strip() == ",".join(EXPORT_COLUMNS)


def test_verify_finds_an_altered_entry_and_removed_newest_entries(world: World) -> None:
    root = world.platform_admin()
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    for email in ("one@acme.test", "two@acme.test", "three@acme.test"):
        create_user(boss, email)
    create_user(root, "ops1@platform.test")
    create_user(root, "ops2@platform.test")
    acme_id = world.tenant_id("acme")

    report = root.get("/v1/audit/verify").json()
    assert report["intact"] is True
    assert [(c["chain"], c["tenant"], c["entries"], c["intact"]) for c in report["chains"]] == [
        ("platform", None, 2, True),
        (acme_id, "acme", 3, True),
    ]

    second = entries(root, tenant="acme", action="user.create")[1]
    assert second["seq"] == 2
    forged = {**second["after"], "email": "someone-else@acme.test"}
    execute(world, update(AuditEntry).where(AuditEntry.id == second["id"]).values(after=forged))

    tampered = root.get("/v1/audit/verify").json()
    assert tampered["intact"] is False
    by_chain = {c["chain"]: c for c in tampered["chains"]}
    broken = by_chain[acme_id]
    assert (broken["intact"], broken["first_broken_seq"], broken["first_broken_id"]) == (
        False,
        2,
        second["id"],
    )
    assert "altered" in broken["problem"]
    assert by_chain["platform"]["intact"] is True
    assert boss.get("/v1/audit/verify").json()["chains"][0]["first_broken_id"] == second["id"]

    newest_platform = entries(root, action="user.create", target_type="user")[0]
    assert newest_platform["chain"] == "platform"
    execute(world, delete(AuditEntry).where(AuditEntry.id == newest_platform["id"]))
    only_platform = root.get("/v1/audit/verify").json()
    removed = next(c for c in only_platform["chains"] if c["chain"] == "platform")
    assert (removed["intact"], removed["entries"], removed["first_broken_seq"]) == (False, 1, 2)
    assert removed["first_broken_id"] is None
    assert "removed" in removed["problem"]

    acme_only = root.get("/v1/audit/verify", params={"tenant": "acme"}).json()
    assert [c["chain"] for c in acme_only["chains"]] == [acme_id]
    assert acme_only["intact"] is False
