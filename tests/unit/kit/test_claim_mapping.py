"""Roles and tenant read from an issuer's claims, wherever it puts them."""

from __future__ import annotations

from typing import Any

import pytest

from stoa.kit.claim_mapping import claim_at, roles_from_claims, tenant_from_claims

KNOWN = ("cpi-admin", "tenant-admin", "devops", "viewer")


def test_nested_and_dotted_claim_names_are_found() -> None:
    claims = {
        "realm_access": {"roles": ["viewer"]},
        "https://stoa.example/tenant": "acme",
        "flat": 1,
    }
    assert claim_at(claims, "realm_access.roles") == ["viewer"]
    assert claim_at(claims, "https://stoa.example/tenant") == "acme"
    assert claim_at(claims, "flat.deeper") is None
    assert claim_at(claims, "missing.path") is None


def test_keycloak_realm_roles_are_mapped_and_its_own_roles_dropped() -> None:
    claims = {
        "realm_access": {"roles": ["offline_access", "default-roles-stoa", "api-owners", "viewer"]}
    }
    roles = roles_from_claims(
        claims,
        path="realm_access.roles",
        role_map={"api-owners": "tenant-admin"},
        known=KNOWN,
    )
    assert roles == {"tenant-admin", "viewer"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("viewer devops", {"viewer", "devops"}),
        ("viewer,devops", {"viewer", "devops"}),
        (["viewer", 3, None, "devops"], {"viewer", "devops"}),
        ({"viewer": True}, set()),
        (42, set()),
        (None, set()),
    ],
)
def test_role_claims_of_every_shape_grant_only_known_roles(value: Any, expected: set[str]) -> None:
    assert roles_from_claims({"roles": value}, path="roles", role_map={}, known=KNOWN) == expected


def test_a_role_map_cannot_grant_an_unknown_role() -> None:
    roles = roles_from_claims(
        {"roles": ["admins"]}, path="roles", role_map={"admins": "superuser"}, known=KNOWN
    )
    assert roles == frozenset()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme", "acme"),
        (" acme ", "acme"),
        (["acme"], "acme"),
        (["a", "b"], None),
        ("", None),
        (None, None),
        (7, None),
    ],
)
def test_tenant_claim(value: Any, expected: str | None) -> None:
    assert tenant_from_claims({"tenant": value}, path="tenant") == expected
