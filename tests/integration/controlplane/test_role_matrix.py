"""The authorization matrix: each role against each kind of endpoint, in its own tenant
and in another. The expectations are written out here, from the role table in
docs/api.md, rather than derived from `authz`, so a change to the rules shows up as a
failing cell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from support.seed_plan import plan, subscription
from support.world import Caller, World

ROLES = ("developer", "viewer", "devops", "tenant-admin", "cpi-admin")
READERS = frozenset({"viewer", "devops", "tenant-admin", "cpi-admin"})
WRITERS = frozenset({"devops", "tenant-admin", "cpi-admin"})
ADMINS = frozenset({"tenant-admin", "cpi-admin"})


@dataclass(frozen=True)
class Seeded:
    """What exists in the target tenant before the probe."""

    tenant: str
    member_id: str
    active_subscription: str
    pending_subscription: str
    application_id: str


@dataclass(frozen=True)
class Probe:
    allowed: frozenset[str]
    call: Callable[[Caller, Seeded], httpx.Response]
    # Applications and subscriptions belong to developers; another developer of the same
    # tenant cannot tell that they exist (404), while members with a role are refused (403).
    hidden_from_developers: bool = False


PROBES: dict[str, Probe] = {
    "read the tenant": Probe(frozenset(ROLES), lambda c, s: c.get(f"/v1/tenants/{s.tenant}")),
    "read a member": Probe(READERS, lambda c, s: c.get(f"/v1/users/{s.member_id}")),
    "add a member": Probe(
        ADMINS,
        lambda c, s: c.post(
            "/v1/users", json={"email": "new@member.test", "name": "new", "tenant": s.tenant}
        ),
    ),
    "list APIs": Probe(READERS, lambda c, s: c.get(f"/v1/tenants/{s.tenant}/apis")),
    "create a plan": Probe(
        WRITERS, lambda c, s: c.post(f"/v1/tenants/{s.tenant}/plans", json={"name": "new"})
    ),
    "delete a plan": Probe(ADMINS, lambda c, s: c.delete(f"/v1/tenants/{s.tenant}/plans/spare")),
    "read a subscription to its API": Probe(
        READERS,
        lambda c, s: c.get(f"/v1/subscriptions/{s.active_subscription}"),
        hidden_from_developers=True,
    ),
    "approve a subscription": Probe(
        ADMINS,
        lambda c, s: c.post(f"/v1/subscriptions/{s.pending_subscription}/approve"),
        hidden_from_developers=True,
    ),
    "read a consumer's application": Probe(
        READERS,
        lambda c, s: c.get(f"/v1/applications/{s.application_id}"),
        hidden_from_developers=True,
    ),
    "read the audit log": Probe(ADMINS, lambda c, s: c.get("/v1/audit/verify?tenant=" + s.tenant)),
}


def _seed(world: World, tenant: str) -> Seeded:
    member = world.user(f"member@{tenant}.test", tenant=tenant, roles=["viewer"])
    held = plan(world, tenant, name="held")
    plan(world, tenant, name="spare")
    active = subscription(world, tenant, held, status="active")
    pending = subscription(world, tenant, held, status="pending")
    held_by = world.platform_admin().get(f"/v1/subscriptions/{active}").json()
    application_id = held_by["application"]["id"]
    return Seeded(tenant, member.user_id, active, pending, application_id)


def _caller(world: World, role: str) -> Caller:
    if role == "cpi-admin":
        return world.user("root@platform.test", roles=["cpi-admin"])
    roles = [] if role == "developer" else [role]
    return world.user(f"{role}@acme.test", tenant="acme", roles=roles)


@pytest.mark.parametrize("target", ["own tenant", "other tenant"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("probe", PROBES)
def test_role_against_endpoint(world: World, probe: str, role: str, target: str) -> None:
    world.tenant("acme")
    world.tenant("globex")
    seeded = _seed(world, "acme" if target == "own tenant" else "globex")
    endpoint = PROBES[probe]
    response = endpoint.call(_caller(world, role), seeded)

    if role == "cpi-admin" or (target == "own tenant" and role in endpoint.allowed):
        assert response.status_code in (200, 201, 204), response.text
    elif target == "own tenant" and not (role == "developer" and endpoint.hidden_from_developers):
        assert response.status_code == 403, response.text
        assert "needs the role" in response.json()["detail"]
    else:
        # Another tenant's (or another developer's) resources do not exist for the caller.
        assert response.status_code == 404, response.text


@pytest.mark.parametrize("role", [r for r in ROLES if r != "cpi-admin"])
def test_only_platform_admins_create_tenants(world: World, role: str) -> None:
    response = _caller(world, role).post("/v1/tenants", json={"slug": "initech", "name": "I"})
    assert response.status_code == 403
    assert "cpi-admin" in response.json()["detail"]
    root = _caller(world, "cpi-admin")
    assert root.post("/v1/tenants", json={"slug": "initech", "name": "I"}).status_code == 201
