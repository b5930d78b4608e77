"""The Keycloak realm export: importing it must give STOA everything it expects.

Checks the realm's structure (a Keycloak server is not part of the test suite): the four
STOA roles, the three STOA scopes, the console and portal as public clients held to PKCE
S256, the gateway as a bearer-only resource, and the claims STOA reads (roles at
`realm_access.roles`, `tenant` from the user attribute of that name, the control plane as
audience), with every scope a client names defined in the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from stoa.controlplane.principal import ALL_ROLES
from stoa.kit.naming import SLUG_PATTERN
from stoa.kit.settings import AuthSettings

REALM_FILE = Path(__file__).resolve().parents[3] / "deploy" / "keycloak" / "stoa-realm.json"
STOA_SCOPES = {"stoa:read", "stoa:write", "stoa:admin"}


@pytest.fixture(scope="module")
def realm() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(REALM_FILE.read_text())
    return document


def _clients(realm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {client["clientId"]: client for client in realm["clients"]}


def _scopes(realm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {scope["name"]: scope for scope in realm["clientScopes"]}


def _mappers(realm: dict[str, Any], scope_names: list[str]) -> list[dict[str, Any]]:
    scopes = _scopes(realm)
    return [m for name in scope_names for m in scopes[name].get("protocolMappers", [])]


def test_realm_is_enabled_and_named_stoa(realm: dict[str, Any]) -> None:
    assert realm["realm"] == "stoa"
    assert realm["enabled"] is True
    assert realm["sslRequired"] in {"external", "all"}
    assert realm["bruteForceProtected"] is True


def test_the_four_stoa_roles_are_realm_roles(realm: dict[str, Any]) -> None:
    names = {role["name"] for role in realm["roles"]["realm"]}
    assert names == set(ALL_ROLES)


def test_the_three_stoa_scopes_are_in_the_token_scope(realm: dict[str, Any]) -> None:
    scopes = _scopes(realm)
    for name in STOA_SCOPES:
        assert scopes[name]["protocol"] == "openid-connect"
        assert scopes[name]["attributes"]["include.in.token.scope"] == "true"
        assert scopes[name]["attributes"]["display.on.consent.screen"] == "true"


@pytest.mark.parametrize(
    ("client_id", "path"), [("stoa-console", "/console"), ("stoa-portal", "/portal")]
)
def test_browser_clients_are_public_with_pkce_s256_and_code_flow_only(
    realm: dict[str, Any], client_id: str, path: str
) -> None:
    client = _clients(realm)[client_id]
    assert client["publicClient"] is True
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["standardFlowEnabled"] is True
    assert client["implicitFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    assert client["serviceAccountsEnabled"] is False
    assert "secret" not in client
    assert client["redirectUris"], "a public client needs exact redirect URIs"
    for uri in client["redirectUris"]:
        assert uri != "*"
        assert uri.endswith(f"{path}/*")
    assert set(client["optionalClientScopes"]) == STOA_SCOPES


def test_every_public_client_requires_pkce_s256(realm: dict[str, Any]) -> None:
    public = [c for c in realm["clients"] if c.get("publicClient")]
    assert public
    for client in public:
        assert client["attributes"]["pkce.code.challenge.method"] == "S256", client["clientId"]


def test_gateway_is_a_bearer_only_resource(realm: dict[str, Any]) -> None:
    gateway = _clients(realm)["stoa-gateway"]
    assert gateway["bearerOnly"] is True
    assert gateway["publicClient"] is False
    assert gateway["standardFlowEnabled"] is False
    assert gateway["directAccessGrantsEnabled"] is False
    assert gateway["serviceAccountsEnabled"] is False


def test_every_scope_a_client_or_default_names_is_defined(realm: dict[str, Any]) -> None:
    defined = set(_scopes(realm))
    named = set(realm["defaultDefaultClientScopes"]) | set(realm["defaultOptionalClientScopes"])
    for client in realm["clients"]:
        named |= set(client.get("defaultClientScopes", []))
        named |= set(client.get("optionalClientScopes", []))
    assert named <= defined, named - defined


@pytest.mark.parametrize("client_id", ["stoa-console", "stoa-portal"])
def test_browser_tokens_carry_what_stoa_reads(realm: dict[str, Any], client_id: str) -> None:
    mappers = _mappers(realm, _clients(realm)[client_id]["defaultClientScopes"])
    by_type: dict[str, list[dict[str, Any]]] = {}
    for mapper in mappers:
        by_type.setdefault(mapper["protocolMapper"], []).append(mapper)

    assert by_type["oidc-sub-mapper"][0]["config"]["access.token.claim"] == "true"

    [roles] = by_type["oidc-usermodel-realm-role-mapper"]
    assert roles["config"]["claim.name"] == "realm_access.roles"
    assert roles["config"]["multivalued"] == "true"
    assert roles["config"]["access.token.claim"] == "true"

    tenant = next(m for m in by_type["oidc-usermodel-attribute-mapper"] if m["name"] == "tenant")
    assert tenant["config"]["user.attribute"] == "tenant"
    assert tenant["config"]["claim.name"] == AuthSettings().tenant_claim
    assert tenant["config"]["access.token.claim"] == "true"
    assert tenant["config"]["id.token.claim"] == "true"
    assert tenant["config"]["multivalued"] == "false"

    [audience] = by_type["oidc-audience-mapper"]
    assert audience["config"]["included.custom.audience"].startswith("${STOA_PUBLIC_URL:")
    assert audience["config"]["access.token.claim"] == "true"


def test_stoa_scopes_make_the_gateway_an_audience(realm: dict[str, Any]) -> None:
    for mapper in _mappers(realm, sorted(STOA_SCOPES)):
        assert mapper["protocolMapper"] == "oidc-audience-mapper"
        assert mapper["config"]["included.custom.audience"].startswith("${STOA_GATEWAY_PUBLIC_URL:")


def test_user_profile_declares_the_tenant_attribute_editable_by_admins_only(
    realm: dict[str, Any],
) -> None:
    [provider] = realm["components"]["org.keycloak.userprofile.UserProfileProvider"]
    assert provider["providerId"] == "declarative-user-profile"
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    assert {"username", "email", "firstName", "lastName"} <= set(attributes)
    tenant = attributes["tenant"]
    assert tenant["permissions"]["edit"] == ["admin"]
    assert tenant["validations"]["pattern"]["pattern"] == SLUG_PATTERN
    assert re.fullmatch(tenant["validations"]["pattern"]["pattern"], "acme-corp")


def test_placeholders_have_defaults_and_no_secrets_are_shipped(realm: dict[str, Any]) -> None:
    text = REALM_FILE.read_text()
    placeholders = set(re.findall(r"\$\{([^}]*)\}", text))
    assert placeholders
    for placeholder in placeholders:
        name, _, default = placeholder.partition(":")
        assert name in {"STOA_PUBLIC_URL", "STOA_GATEWAY_PUBLIC_URL"}
        assert default.startswith("http")
    assert '"secret"' not in text
    assert "users" not in realm
