"""Users, role bindings and service accounts through the real API, on SQLite and PostgreSQL."""

from __future__ import annotations

from stoa.kit.passwords import verify_password
from support.seed_user import stored_user
from support.world import World


def test_tenant_admin_creates_a_user_whose_generated_password_is_shown_once(
    world: World,
) -> None:
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    created = boss.post(
        "/v1/users", json={"email": "  Ada@Example.COM ", "name": "Ada", "roles": ["devops"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "ada@example.com"
    assert (body["tenant"], body["kind"], body["status"]) == ("acme", "human", "active")
    assert body["roles"] == ["devops"]
    password = body["initial_password"]
    assert len(password) >= 20

    again = boss.get(f"/v1/users/{body['id']}").json()
    assert "initial_password" not in again
    assert not any("hash" in key for key in again)
    row = stored_user(world, body["id"])
    assert (row.password_hash or "").startswith("$argon2id$")
    assert verify_password(row.password_hash, password)

    chosen = boss.post(
        "/v1/users",
        json={"email": "bob@example.com", "name": "Bob", "password": "a long chosen password"},
    ).json()
    assert chosen["initial_password"] is None
    assert chosen["roles"] == []
    stored = stored_user(world, chosen["id"])
    assert verify_password(stored.password_hash, "a long chosen password")


def test_taken_or_malformed_email_and_short_password_are_refused_and_write_nothing(
    world: World,
) -> None:
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    assert boss.post("/v1/users", json={"email": "ada@x.test", "name": "Ada"}).status_code == 201

    taken = boss.post("/v1/users", json={"email": "ADA@x.test", "name": "Other"})
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    assert "ada@x.test" in taken.json()["detail"]

    malformed = boss.post("/v1/users", json={"email": "not-an-email", "name": "X"})
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "email"
    assert "email address" in malformed.json()["detail"]

    short = boss.post("/v1/users", json={"email": "c@x.test", "name": "C", "password": "short"})
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "password"

    unknown = boss.post("/v1/users", json={"email": "d@x.test", "name": "D", "admin": True})
    assert unknown.status_code == 422

    emails = [u["email"] for u in boss.get("/v1/users").json()["items"]]
    assert emails == ["boss@acme.test", "ada@x.test"]


def test_who_may_create_users_and_grant_which_roles(world: World) -> None:
    root = world.platform_admin()
    world.tenant("globex")
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    new = {"email": "new@x.test", "name": "New"}

    for role in ("viewer", "devops"):
        member = world.user(f"{role}@acme.test", tenant="acme", roles=[role])
        assert member.post("/v1/users", json=new).status_code == 403
    developer = world.user("dev@acme.test", tenant="acme")
    refused = developer.post("/v1/users", json={**new, "tenant": "acme"})
    assert refused.status_code == 403
    assert "tenant-admin" in refused.json()["detail"]

    assert boss.post("/v1/users", json={**new, "tenant": "globex"}).status_code == 404
    grant = boss.post("/v1/users", json={**new, "roles": ["cpi-admin"]})
    assert grant.status_code == 403
    assert "cpi-admin" in grant.json()["detail"]
    in_own = boss.post("/v1/users", json={**new, "roles": ["viewer", "viewer"]})
    assert in_own.status_code == 201
    assert (in_own.json()["tenant"], in_own.json()["roles"]) == ("acme", ["viewer"])

    platform = root.post(
        "/v1/users", json={"email": "ops@platform.test", "name": "Ops", "roles": ["cpi-admin"]}
    )
    assert platform.status_code == 201
    assert (platform.json()["tenant"], platform.json()["roles"]) == (None, ["cpi-admin"])
    no_tenant_role = root.post(
        "/v1/users", json={"email": "x@platform.test", "name": "X", "roles": ["devops"]}
    )
    assert no_tenant_role.status_code == 422
    assert "tenant role" in no_tenant_role.json()["detail"]
    in_globex = root.post("/v1/users", json={**new, "email": "g@x.test", "tenant": "globex"})
    assert in_globex.json()["tenant"] == "globex"
    assert root.post("/v1/users", json={**new, "tenant": "nope"}).status_code == 404


def test_who_sees_which_users(world: World) -> None:
    root = world.platform_admin()
    viewer = world.user("viewer@acme.test", tenant="acme", roles=["viewer"])
    devops = world.user("devops@acme.test", tenant="acme", roles=["devops"])
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    developer = world.user("dev@acme.test", tenant="acme")
    outsider = world.user("boss@globex.test", tenant="globex", roles=["tenant-admin"])

    acme = ["viewer@acme.test", "devops@acme.test", "boss@acme.test", "dev@acme.test"]
    for member in (viewer, devops, boss):
        listed = member.get("/v1/users").json()["items"]
        assert [u["email"] for u in listed] == acme
        assert member.get(f"/v1/users/{developer.user_id}").status_code == 200
        assert member.get(f"/v1/users/{outsider.user_id}").status_code == 404
        assert member.get(f"/v1/users/{root.user_id}").status_code == 404
        assert member.get("/v1/users", params={"tenant": "globex"}).status_code == 404
    roles = {u["email"]: u["roles"] for u in boss.get("/v1/users").json()["items"]}
    assert (roles["boss@acme.test"], roles["dev@acme.test"]) == (["tenant-admin"], [])

    assert developer.get("/v1/users").status_code == 403
    assert developer.get(f"/v1/users/{boss.user_id}").status_code == 403
    assert developer.get(f"/v1/users/{developer.user_id}").json()["email"] == "dev@acme.test"
    assert developer.get(f"/v1/users/{outsider.user_id}").status_code == 404

    everyone = root.get("/v1/users").json()["items"]
    assert len(everyone) == 6
    only_globex = root.get("/v1/users", params={"tenant": "globex"}).json()["items"]
    assert [u["email"] for u in only_globex] == ["boss@globex.test"]
    by_email = root.get("/v1/users", params={"email": "DEV@acme.test"}).json()["items"]
    assert [u["id"] for u in by_email] == [developer.user_id]
    assert root.get("/v1/users", params={"kind": "service"}).json()["items"] == []
    assert root.get("/v1/users", params={"kind": "robot"}).status_code == 422

    first = root.get("/v1/users", params={"limit": 4}).json()
    rest = root.get("/v1/users", params={"limit": 4, "cursor": first["next_cursor"]}).json()
    assert [u["id"] for u in first["items"] + rest["items"]] == [u["id"] for u in everyone]
    assert rest["next_cursor"] is None


def test_me_shows_the_callers_user_tenant_and_roles(world: World) -> None:
    developer = world.user("dev@acme.test", tenant="acme")
    me = developer.get("/v1/users/me").json()
    assert (me["id"], me["email"], me["tenant"], me["roles"]) == (
        developer.user_id,
        "dev@acme.test",
        "acme",
        [],
    )
    root = world.platform_admin()
    assert root.get("/v1/users/me").json()["roles"] == ["cpi-admin"]
    assert root.get("/v1/users/me").json()["tenant"] is None
    assert world.anonymous().get("/v1/users/me").status_code == 401


def test_users_change_their_own_name_and_password_and_admins_disable_them(world: World) -> None:
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    developer = world.user("dev@acme.test", tenant="acme")
    colleague = world.user("colleague@acme.test", tenant="acme", roles=["viewer"])

    renamed = developer.patch(
        f"/v1/users/{developer.user_id}",
        json={"name": "Dev Eloper", "password": "my brand new password"},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Dev Eloper"
    stored = stored_user(world, developer.user_id)
    assert verify_password(stored.password_hash, "my brand new password")

    assert (
        developer.patch(f"/v1/users/{developer.user_id}", json={"status": "disabled"}).status_code
        == 403
    )
    assert (
        colleague.patch(f"/v1/users/{developer.user_id}", json={"name": "Hacked"}).status_code
        == 403
    )
    own = boss.patch(f"/v1/users/{boss.user_id}", json={"status": "disabled"})
    assert own.status_code == 409
    assert "yourself" in own.json()["detail"]

    disabled = boss.patch(f"/v1/users/{developer.user_id}", json={"status": "disabled"})
    assert disabled.json()["status"] == "disabled"
    assert developer.get("/v1/users/me").status_code == 401
    enabled = boss.patch(f"/v1/users/{developer.user_id}", json={"status": "active"})
    assert enabled.json()["status"] == "active"
    assert developer.get("/v1/users/me").json()["name"] == "Dev Eloper"


def test_tenant_admin_deletes_members_but_not_themselves_or_other_tenants_users(
    world: World,
) -> None:
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    devops = world.user("devops@acme.test", tenant="acme", roles=["devops"])
    developer = world.user("dev@acme.test", tenant="acme")
    outsider = world.user("dev@globex.test", tenant="globex")
    root = world.platform_admin()

    assert devops.delete(f"/v1/users/{developer.user_id}").status_code == 403
    assert boss.delete(f"/v1/users/{outsider.user_id}").status_code == 404
    assert boss.delete(f"/v1/users/{root.user_id}").status_code == 404
    itself = boss.delete(f"/v1/users/{boss.user_id}")
    assert itself.status_code == 409
    assert "cannot delete yourself" in itself.json()["detail"]

    assert boss.delete(f"/v1/users/{developer.user_id}").status_code == 204
    assert boss.get(f"/v1/users/{developer.user_id}").status_code == 404
    assert developer.get("/v1/users/me").status_code == 401
    assert root.delete(f"/v1/users/{outsider.user_id}").status_code == 204
    assert root.delete(f"/v1/users/{root.user_id}").status_code == 409


def test_role_bindings_are_granted_listed_and_removed_by_tenant_admins(world: World) -> None:
    root = world.platform_admin()
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    developer = world.user("dev@acme.test", tenant="acme")
    viewer = world.user("viewer@acme.test", tenant="acme", roles=["viewer"])
    outsider = world.user("dev@globex.test", tenant="globex")
    roles = f"/v1/users/{developer.user_id}/roles"

    granted = boss.post(roles, json={"role": "devops"})
    assert granted.status_code == 201, granted.text
    assert (granted.json()["role"], granted.json()["tenant_id"]) == (
        "devops",
        world.tenant_id("acme"),
    )
    assert boss.post(roles, json={"role": "devops"}).status_code == 409
    assert boss.post(roles, json={"role": "viewer"}).status_code == 201
    assert boss.post(roles, json={"role": "root"}).status_code == 422
    assert boss.post(roles, json={"role": "cpi-admin"}).status_code == 403
    assert [b["role"] for b in viewer.get(roles).json()["items"]] == ["devops", "viewer"]
    assert boss.get(f"/v1/users/{developer.user_id}").json()["roles"] == ["devops", "viewer"]

    assert viewer.post(roles, json={"role": "tenant-admin"}).status_code == 403
    elsewhere = boss.post(f"/v1/users/{outsider.user_id}/roles", json={"role": "viewer"})
    assert elsewhere.status_code == 404
    assert boss.delete(f"{roles}/viewer").status_code == 204
    missing = boss.delete(f"{roles}/viewer")
    assert missing.status_code == 404
    assert "does not have the role viewer" in missing.json()["detail"]
    assert [b["role"] for b in boss.get(roles).json()["items"]] == ["devops"]

    platform_user = root.post("/v1/users", json={"email": "ops@p.test", "name": "Ops"}).json()
    to_platform = root.post(f"/v1/users/{platform_user['id']}/roles", json={"role": "viewer"})
    assert to_platform.status_code == 422
    made_admin = root.post(f"/v1/users/{developer.user_id}/roles", json={"role": "cpi-admin"})
    assert made_admin.json()["tenant_id"] is None
    # A tenant-admin cannot manage someone who holds cpi-admin.
    assert boss.delete(f"{roles}/devops").status_code == 403


def test_the_last_tenant_admin_cannot_give_up_the_role_themselves(world: World) -> None:
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    second = world.user("second@acme.test", tenant="acme")
    own = f"/v1/users/{boss.user_id}/roles/tenant-admin"

    refused = boss.delete(own)
    assert refused.status_code == 409
    assert "last tenant-admin" in refused.json()["detail"]
    assert boss.get(f"/v1/users/{boss.user_id}").json()["roles"] == ["tenant-admin"]

    boss.post(f"/v1/users/{second.user_id}/roles", json={"role": "tenant-admin"})
    assert boss.delete(own).status_code == 204
    assert boss.get(f"/v1/users/{boss.user_id}/roles").json()["items"] == []


def test_service_accounts_get_a_client_secret_once_and_can_rotate_it(world: World) -> None:
    boss = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    developer = world.user("dev@acme.test", tenant="acme")
    refused = developer.post("/v1/service-accounts", json={"name": "ci"})
    assert refused.status_code == 403

    created = boss.post("/v1/service-accounts", json={"name": "ci", "roles": ["devops"]})
    assert created.status_code == 201, created.text
    account = created.json()
    assert (account["kind"], account["email"], account["tenant"]) == ("service", None, "acme")
    assert account["roles"] == ["devops"]
    assert account["client_id"].startswith("stoa_sa_")
    first_secret = account["client_secret"]
    assert first_secret.startswith("stoa_cs_")
    assert len(first_secret) > 40

    listed = boss.get("/v1/users", params={"kind": "service"}).json()["items"]
    assert [a["id"] for a in listed] == [account["id"]]
    assert "client_secret" not in listed[0]
    row = stored_user(world, account["id"])
    assert row.password_hash is None
    assert verify_password(row.client_secret_hash, first_secret)

    rotated = boss.post(f"/v1/service-accounts/{account['id']}/secret")
    assert rotated.status_code == 200
    assert rotated.json()["client_id"] == account["client_id"]
    second_secret = rotated.json()["client_secret"]
    assert second_secret != first_secret
    row = stored_user(world, account["id"])
    assert verify_password(row.client_secret_hash, second_secret)
    assert not verify_password(row.client_secret_hash, first_secret)

    assert developer.post(f"/v1/service-accounts/{account['id']}/secret").status_code == 403
    assert boss.post(f"/v1/service-accounts/{developer.user_id}/secret").status_code == 404
    no_password = boss.patch(
        f"/v1/users/{account['id']}", json={"password": "a password for a robot"}
    )
    assert no_password.status_code == 422
    assert "client secret" in no_password.json()["detail"]
