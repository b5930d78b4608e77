"""Who is calling: built once per request from the verified bearer token."""

from __future__ import annotations

from dataclasses import dataclass

PLATFORM_ADMIN = "cpi-admin"
TENANT_ROLES = ("tenant-admin", "devops", "viewer")
ALL_ROLES = (PLATFORM_ADMIN, *TENANT_ROLES)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    `roles` hold for `tenant_id` only, except `cpi-admin`, which holds everywhere. A caller
    with a tenant and no role is a developer: they see their tenant and the catalog and
    manage their own applications.
    """

    user_id: str
    label: str  # email or service-account name, for audit entries
    tenant_id: str | None
    tenant_slug: str | None
    roles: frozenset[str]
    source_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.roles
