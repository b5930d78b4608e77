"""`stoa admin` as an operator runs it: a real process on the same database and data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from support.databases import Backend
from support.world import World

STOA = str(Path(sys.executable).parent / "stoa")


def _stoa(backend: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STOA_DATA_DIR": str(backend.settings.data_dir),
        "STOA_DATABASE_URL": backend.settings.resolved_database_url,
        "STOA_PUBLIC_URL": backend.settings.public_url,
    }
    return subprocess.run(
        [STOA, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _field(output: str, name: str) -> str:
    for line in output.splitlines():
        if line.startswith(name):
            return line.split()[-1]
    raise AssertionError(f"{name} not in output:\n{output}")


def _as(backend: Backend, token: str) -> httpx.Client:
    return httpx.Client(base_url=backend.url, headers={"Authorization": f"Bearer {token}"})


def test_operator_creates_a_tenant_admin_and_acts_with_their_token(
    world: World, backend: Backend
) -> None:
    created = _stoa(
        backend,
        "admin",
        "create-user",
        "--email",
        "Boss@Acme.test",
        "--role",
        "tenant-admin",
        "--tenant",
        "acme",
        "--create-tenant",
    )
    assert created.returncode == 0, created.stderr
    assert len(_field(created.stdout, "password")) >= 20

    token = _stoa(backend, "admin", "token", "--user", "boss@acme.test")
    assert token.returncode == 0, token.stderr
    with _as(backend, token.stdout.strip()) as client:
        me = client.get("/v1/users/me").json()
        assert (me["email"], me["tenant"], me["roles"]) == (
            "boss@acme.test",
            "acme",
            ["tenant-admin"],
        )
        assert client.get("/v1/tenants/acme").status_code == 200

    audit = world.platform_admin().get("/v1/audit", params={"action": "user.create"}).json()
    assert [entry["actor_label"] for entry in audit["items"]] == ["local operator (stoa admin)"]


def test_service_account_gets_a_client_id_usable_with_the_token_helper(
    world: World, backend: Backend
) -> None:
    world.tenant("acme")
    created = _stoa(
        backend,
        "admin",
        "create-service-account",
        "--name",
        "ci-bot",
        "--role",
        "devops",
        "--tenant",
        "acme",
    )
    assert created.returncode == 0, created.stderr
    client_id = _field(created.stdout, "client_id")
    assert client_id.startswith("stoa_sa_")
    assert _field(created.stdout, "client_secret").startswith("stoa_cs_")

    token = _stoa(backend, "admin", "token", "--user", client_id)
    with _as(backend, token.stdout.strip()) as client:
        me = client.get("/v1/users/me").json()
        assert (me["kind"], me["roles"]) == ("service", ["devops"])


def test_mistakes_get_a_one_line_error_and_change_nothing(world: World, backend: Backend) -> None:
    unknown_tenant = _stoa(
        backend,
        "admin",
        "create-user",
        "--email",
        "a@b.test",
        "--role",
        "viewer",
        "--tenant",
        "nowhere",
    )
    assert unknown_tenant.returncode == 2
    assert "--create-tenant" in unknown_tenant.stderr
    assert "Traceback" not in unknown_tenant.stderr

    bad_role = _stoa(
        backend,
        "admin",
        "create-user",
        "--email",
        "a@b.test",
        "--role",
        "emperor",
        "--tenant",
        "nowhere",
        "--create-tenant",
    )
    assert bad_role.returncode == 2
    assert "roles" in bad_role.stderr

    unknown_user = _stoa(backend, "admin", "token", "--user", "ghost@nowhere.test")
    assert unknown_user.returncode == 2
    assert "ghost@nowhere.test" in unknown_user.stderr

    tenants = world.platform_admin().get("/v1/tenants").json()["items"]
    assert tenants == []


def test_operator_creates_a_gateway_token_that_opens_the_snapshot(
    world: World, backend: Backend
) -> None:
    created = _stoa(backend, "admin", "create-gateway-token", "--name", "edge-paris-1")
    assert created.returncode == 0, created.stderr
    secret = _field(created.stdout, "token")
    assert secret.startswith("stoa_gw_")
    with _as(backend, secret) as gateway:
        assert gateway.get("/v1/snapshot").status_code == 200

    admin = world.platform_admin()
    [listed] = admin.get("/v1/gateway-tokens").json()["items"]
    assert (listed["id"], listed["name"]) == (_field(created.stdout, "id"), "edge-paris-1")
    assert listed["created_by"] == "local operator (stoa admin)"
    admin.post(f"/v1/gateway-tokens/{listed['id']}/revoke").raise_for_status()
    with _as(backend, secret) as gateway:
        assert gateway.get("/v1/snapshot").status_code == 401

    too_long = _stoa(backend, "admin", "create-gateway-token", "--name", "x" * 101)
    assert too_long.returncode == 2
    assert "Traceback" not in too_long.stderr
    assert len(admin.get("/v1/gateway-tokens").json()["items"]) == 1
