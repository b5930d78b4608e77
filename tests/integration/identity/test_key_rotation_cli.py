"""`stoa admin rotate-signing-key` as an operator runs it, against a running control plane:
tokens signed before and after the rotation are both accepted, the JWKS publishes both
keys, and the rotation is in the audit log."""

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


def _status_with(backend: Backend, token: str) -> int:
    return httpx.get(
        f"{backend.url}/v1/tenants", headers={"Authorization": f"Bearer {token}"}
    ).status_code


def test_operator_rotates_the_signing_key_without_breaking_issued_tokens(
    world: World, backend: Backend
) -> None:
    admin = world.platform_admin()
    before = _stoa(backend, "admin", "token", "--user", admin.email)
    assert before.returncode == 0, before.stderr

    rotated = _stoa(backend, "admin", "rotate-signing-key")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split()[-1]

    after = _stoa(backend, "admin", "token", "--user", admin.email)
    assert after.returncode == 0, after.stderr
    assert _status_with(backend, before.stdout.strip()) == 200
    assert _status_with(backend, after.stdout.strip()) == 200
    kids = [k["kid"] for k in httpx.get(f"{backend.url}/oauth/jwks").json()["keys"]]
    assert len(kids) == 2
    assert kids[-1] == new_kid

    entries = admin.get("/v1/audit", params={"action": "signing_key.rotate"}).json()["items"]
    assert [e["target_id"] for e in entries] == [new_kid]
