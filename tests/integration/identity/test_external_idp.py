"""External IdP mode: the control plane trusts tokens from an independent OIDC provider.

The provider is panva's `oidc-provider` (Node 22) on loopback, issuing client-credentials
JWT access tokens that carry Keycloak-style claims: roles in `realm_access.roles` under
the IdP's own names, and the tenant slug in `tenant`. The control plane runs with
`STOA_OIDC_ISSUER` pointing at it, finds its keys through discovery, maps the claims, and
creates each caller's STOA user on their first call. A second provider with the same
signing keys but another issuer URL plays the impostor.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from stoa.controlplane.app import create_app
from stoa.controlplane.external_users import external_user_id
from stoa.controlplane.models import User
from stoa.kit.ids import new_id
from stoa.kit.settings import Settings
from support import seed_catalog
from support.databases import create_database, drop_database
from support.oidc_provider import OidcProvider, ProviderClient, installed_project, node22
from support.servers import ServerThread, free_port
from support.world import World

OTHER_RESOURCE = "https://billing.example/api"
OWNERS = {"realm_access": {"roles": ["api-owners", "offline_access", "default-roles-corp"]}}

CLIENTS = [
    ProviderClient("acme-owner", claims={"tenant": "acme", **OWNERS}),
    ProviderClient("acme-viewer", claims={"tenant": "acme", "realm_access": {"roles": ["viewer"]}}),
    ProviderClient("acme-developer", claims={"tenant": "acme", "email": "dev@acme.example"}),
    ProviderClient("acme-short-lived", claims={"tenant": "acme", **OWNERS}, ttl=1),
    ProviderClient("acme-to-disable", claims={"tenant": "acme", **OWNERS}),
    ProviderClient("platform-operator", claims={"realm_access": {"roles": ["platform-admins"]}}),
    ProviderClient("lost-soul", claims={"tenant": "no-such-tenant", **OWNERS}),
    ProviderClient("email-clash", claims={"tenant": "acme", "email": "taken@acme.example"}),
    ProviderClient("acme-burst", claims={"tenant": "acme", **OWNERS}),
    ProviderClient(
        "tenant-hopper",
        claims={"tenant": "acme", **OWNERS},
        claims_by_scope={"stoa:admin": {"tenant": "globex", **OWNERS}},
    ),
]


@dataclass
class Setup:
    provider: OidcProvider
    impostor: OidcProvider
    control_plane: str

    def call(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, self.control_plane + path, headers=headers, **kwargs)

    def as_client(self, client_id: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.provider.token(client_id, resource=self.control_plane)
        return self.call(token, method, path, **kwargs)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    node = node22()
    project = installed_project()
    scratch: Path = tmp_path_factory.mktemp("external-idp")
    key = ECKey.generate_key("P-256", parameters={"kid": "corp-1", "alg": "ES256", "use": "sig"})
    jwks = {"keys": [key.as_dict(private=True)]}
    cp_port = free_port()
    control_plane = f"http://127.0.0.1:{cp_port}"
    resources = [control_plane, OTHER_RESOURCE]
    provider = OidcProvider(
        node,
        project,
        port=free_port(),
        jwks=jwks,
        resources=resources,
        clients=CLIENTS,
        scratch=scratch,
    )
    impostor = OidcProvider(
        node,
        project,
        port=free_port(),
        jwks=jwks,
        resources=resources,
        clients=CLIENTS,
        scratch=scratch,
    )
    kind: str = request.param
    database_url = create_database(kind, scratch)
    settings = Settings(
        data_dir=scratch / "data",
        database_url=database_url,
        public_url=control_plane,
        oidc_issuer=provider.issuer,
        auth={
            "roles_claim": "realm_access.roles",
            "tenant_claim": "tenant",
            "role_map": {"api-owners": "tenant-admin", "platform-admins": "cpi-admin"},
            "clock_skew_seconds": 0,
        },
    )
    world = World(settings, control_plane)
    seed_catalog.api(world, "acme", "weather")
    seed_catalog.api(world, "globex", "ledger")
    world._run(
        User(
            id=new_id("usr"),
            email="taken@acme.example",
            name="Local",
            kind="human",
            tenant_id=world.tenant_id("acme"),
        )
    )
    server = ServerThread(create_app(settings), port=cp_port).start()
    try:
        yield Setup(provider, impostor, control_plane)
    finally:
        server.stop()
        world.close()
        provider.stop()
        impostor.stop()
        drop_database(kind, database_url)


def _api_names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def _exp(token: str) -> int:
    payload = token.split(".")[1]
    exp: int = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    return exp


def test_discovery_document_of_the_provider_names_its_keys(setup: Setup) -> None:
    document = httpx.get(f"{setup.provider.issuer}/.well-known/openid-configuration").json()
    assert document["issuer"] == setup.provider.issuer
    assert httpx.get(document["jwks_uri"]).json()["keys"][0]["kid"] == "corp-1"


def test_tenant_admin_from_the_idp_lists_its_tenants_apis_but_not_another_tenants(
    setup: Setup,
) -> None:
    assert _api_names(setup.as_client("acme-owner", "GET", "/v1/tenants/acme/apis")) == ["weather"]
    other = setup.as_client("acme-owner", "GET", "/v1/tenants/globex/apis")
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")


def test_the_embedded_authorization_server_is_off(setup: Setup) -> None:
    for path in ("/.well-known/openid-configuration", "/oauth/jwks", "/oauth/authorize"):
        assert httpx.get(setup.control_plane + path).status_code == 404, path
    token = httpx.post(
        setup.control_plane + "/oauth/token", data={"grant_type": "client_credentials"}
    )
    assert token.status_code == 404


def test_idp_role_names_are_mapped_and_unmapped_ones_kept(setup: Setup) -> None:
    me = setup.as_client("acme-owner", "GET", "/v1/users/me")
    assert me.status_code == 200, me.text
    # api-owners is renamed; the IdP's own offline_access and default roles are dropped.
    assert me.json()["roles"] == ["tenant-admin"]
    # `viewer` is a STOA role already: it may read but not delete.
    assert _api_names(setup.as_client("acme-viewer", "GET", "/v1/tenants/acme/apis")) == ["weather"]
    refused = setup.as_client("acme-viewer", "DELETE", "/v1/tenants/acme/apis/weather")
    assert refused.status_code == 403
    assert "tenant-admin" in refused.json()["detail"]
    # `platform-admins` maps to cpi-admin: every tenant is visible.
    assert _api_names(setup.as_client("platform-operator", "GET", "/v1/tenants/globex/apis")) == [
        "ledger"
    ]


def test_first_call_creates_the_stoa_user_who_then_owns_applications(setup: Setup) -> None:
    me = setup.as_client("acme-developer", "GET", "/v1/users/me")
    assert me.status_code == 200, me.text
    user = me.json()
    assert user["id"] == external_user_id(setup.provider.issuer, "acme-developer")
    assert user["tenant"] == "acme"
    assert user["email"] == "dev@acme.example"
    assert user["kind"] == "service"  # a client-credentials token: sub is the client id

    created = setup.as_client("acme-developer", "POST", "/v1/applications", json={"name": "bot"})
    assert created.status_code == 201, created.text
    assert created.json()["owner_id"] == user["id"]
    # A later call is the same user, with the same application.
    listed = setup.as_client("acme-developer", "GET", "/v1/applications").json()["items"]
    assert [a["name"] for a in listed] == ["bot"]

    # The platform admin sees the new user, and its creation in the audit log.
    seen = setup.as_client("platform-operator", "GET", f"/v1/users/{user['id']}")
    assert seen.status_code == 200
    assert seen.json()["name"] == "dev@acme.example"
    audit = setup.as_client(
        "platform-operator",
        "GET",
        "/v1/audit",
        params={"tenant": "acme", "action": "user.create", "target_id": user["id"]},
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert entry["actor_id"] == user["id"]
    assert entry["actor_label"] == "dev@acme.example"


def test_a_user_disabled_in_stoa_is_refused_despite_a_valid_token(setup: Setup) -> None:
    assert setup.as_client("acme-to-disable", "GET", "/v1/tenants/acme/apis").status_code == 200
    user_id = external_user_id(setup.provider.issuer, "acme-to-disable")
    disabled = setup.as_client(
        "platform-operator", "PATCH", f"/v1/users/{user_id}", json={"status": "disabled"}
    )
    assert disabled.status_code == 200, disabled.text
    refused = setup.as_client("acme-to-disable", "GET", "/v1/tenants/acme/apis")
    assert refused.status_code == 401
    assert "disabled" in refused.json()["detail"]


def test_a_token_naming_an_unknown_tenant_is_refused_and_creates_no_user(setup: Setup) -> None:
    refused = setup.as_client("lost-soul", "GET", "/v1/tenants/acme/apis")
    assert refused.status_code == 401
    assert "no-such-tenant" in refused.json()["detail"]
    user_id = external_user_id(setup.provider.issuer, "lost-soul")
    assert setup.as_client("platform-operator", "GET", f"/v1/users/{user_id}").status_code == 404


def test_a_token_cannot_move_a_user_to_another_tenant(setup: Setup) -> None:
    first = setup.as_client("tenant-hopper", "GET", "/v1/tenants/acme/apis")
    assert first.status_code == 200
    moved = setup.provider.token("tenant-hopper", resource=setup.control_plane, scope="stoa:admin")
    refused = setup.call(moved, "GET", "/v1/tenants/globex/apis")
    assert refused.status_code == 401
    assert "another tenant" in refused.json()["detail"]


def test_a_token_from_another_issuer_is_refused_even_with_the_same_keys(setup: Setup) -> None:
    token = setup.impostor.token("acme-owner", resource=setup.control_plane)
    refused = setup.call(token, "GET", "/v1/tenants/acme/apis")
    assert refused.status_code == 401
    assert "issuer" in refused.json()["detail"]


def test_a_token_for_another_audience_is_refused(setup: Setup) -> None:
    token = setup.provider.token("acme-owner", resource=OTHER_RESOURCE)
    refused = setup.call(token, "GET", "/v1/tenants/acme/apis")
    assert refused.status_code == 401
    assert "audience" in refused.json()["detail"]


def test_an_expired_token_is_refused(setup: Setup) -> None:
    token = setup.provider.token("acme-short-lived", resource=setup.control_plane)
    # Wait until the token's `exp` is in the past (the clock skew is 0 in this setup).
    while time.time() < _exp(token) + 1:
        time.sleep(0.2)
    refused = setup.call(token, "GET", "/v1/tenants/acme/apis")
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_a_token_whose_claims_were_altered_is_refused(setup: Setup) -> None:
    token = setup.provider.token("acme-owner", resource=setup.control_plane)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["realm_access"] = {"roles": ["platform-admins"]}
    altered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    refused = setup.call(f"{header}.{altered}.{signature}", "GET", "/v1/tenants/globex/apis")
    assert refused.status_code == 401


def test_an_email_another_user_has_does_not_block_the_external_user(setup: Setup) -> None:
    me = setup.as_client("email-clash", "GET", "/v1/users/me")
    assert me.status_code == 200, me.text
    assert me.json()["email"] is None
    assert me.json()["tenant"] == "acme"


def test_concurrent_first_calls_create_one_user_and_one_audit_entry(setup: Setup) -> None:
    token = setup.provider.token("acme-burst", resource=setup.control_plane)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: setup.call(token, "GET", "/v1/tenants/acme/apis", timeout=30).status_code,
                range(8),
            )
        )
    assert statuses == [200] * 8
    user_id = external_user_id(setup.provider.issuer, "acme-burst")
    audit = setup.as_client(
        "platform-operator",
        "GET",
        "/v1/audit",
        params={"tenant": "acme", "action": "user.create", "target_id": user_id},
    )
    assert len(audit.json()["items"]) == 1
