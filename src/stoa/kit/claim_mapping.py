"""Reading roles and the tenant out of verified token claims, whoever issued them.

The embedded issuer puts `roles` and `tenant` at the top level; external providers put
them elsewhere (Keycloak: `realm_access.roles`) and name roles their own way. The settings
say where to look (`STOA_AUTH__ROLES_CLAIM`, `STOA_AUTH__TENANT_CLAIM`) and how to rename
(`STOA_AUTH__ROLE_MAP`). Shared by the control plane and the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

_SEPARATORS = re.compile(r"[\s,]+")


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at `path` in `claims`, or None.

    `path` is a claim name, or names joined by dots for nested objects (`realm_access.roles`).
    A claim whose own name contains dots (Auth0's `https://example.com/roles`) is found when
    it exists under the whole path.
    """
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def roles_from_claims(
    claims: Mapping[str, Any],
    *,
    path: str,
    role_map: Mapping[str, str],
    known: Collection[str],
) -> frozenset[str]:
    """The STOA roles the claims grant.

    The claim may be a list of names or one string of names separated by spaces or commas.
    Each name is renamed through `role_map` (names not in it stay as they are), and only
    names in `known` are kept: an IdP's own roles (`offline_access`,
    `default-roles-<realm>`) are not STOA's business. Anything else (a number, an object)
    grants nothing.
    """
    raw = claim_at(claims, path)
    if isinstance(raw, str):
        names = [name for name in _SEPARATORS.split(raw) if name]
    elif isinstance(raw, list):
        names = [name for name in raw if isinstance(name, str)]
    else:
        return frozenset()
    return frozenset(role_map.get(name, name) for name in names) & frozenset(known)


def tenant_from_claims(claims: Mapping[str, Any], *, path: str) -> str | None:
    """The tenant slug the claims name, or None when there is none.

    Keycloak maps a user attribute to a one-element list when the attribute is marked
    multivalued; a list with exactly one string is accepted for that reason. An empty
    string or anything else means no tenant.
    """
    value = claim_at(claims, path)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
