"""Authorization by role and tenant: the one place that decides who may do what.

Rules:
- `cpi-admin` may do everything, in every tenant.
- Anyone else acts only inside their own tenant. Another tenant's resources answer 404
  (`NotFound`), never 403, so their existence does not leak.
- Inside their tenant, a caller whose roles lack the action gets 403 naming the roles
  that would allow it.
"""

from __future__ import annotations

from enum import StrEnum

from stoa.controlplane.principal import Principal
from stoa.kit.errors import Forbidden, NotFound


class Action(StrEnum):
    TENANT_READ = "tenant:read"
    MEMBER_READ = "member:read"
    MEMBER_MANAGE = "member:manage"
    CATALOG_READ = "catalog:read"  # APIs, tools, plans, policies
    CATALOG_WRITE = "catalog:write"
    CATALOG_DELETE = "catalog:delete"
    SUBSCRIPTION_READ = "subscription:read"  # subscriptions to the tenant's APIs
    SUBSCRIPTION_REVIEW = "subscription:review"  # approve, reject, suspend, resume, revoke
    APPLICATION_READ = "application:read"  # the tenant's consumer applications
    APPLICATION_MANAGE = "application:manage"
    AUDIT_READ = "audit:read"


_MEMBER = frozenset({Action.TENANT_READ})
_VIEWER = _MEMBER | {
    Action.MEMBER_READ,
    Action.CATALOG_READ,
    Action.SUBSCRIPTION_READ,
    Action.APPLICATION_READ,
}
_DEVOPS = _VIEWER | {Action.CATALOG_WRITE}
_TENANT_ADMIN = frozenset(Action)

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "viewer": _VIEWER,
    "devops": _DEVOPS,
    "tenant-admin": _TENANT_ADMIN,
}


def allowed_actions(principal: Principal) -> frozenset[Action]:
    granted = set(_MEMBER)
    for role in principal.roles:
        granted |= ROLE_ACTIONS.get(role, frozenset())
    return frozenset(granted)


def roles_allowing(action: Action) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def authorize(principal: Principal, action: Action, tenant_id: str, *, what: str) -> None:
    """Allow `action` on `what` (a description such as "tenant acme") in `tenant_id`, or raise.

    Raises `NotFound` when the caller may not know `what` exists, `Forbidden` when they may
    see it but not do this.
    """
    if principal.is_platform_admin:
        return
    if principal.tenant_id != tenant_id:
        raise NotFound(f"{what} does not exist")
    if action not in allowed_actions(principal):
        needed = " or ".join([*roles_allowing(action), "cpi-admin"])
        raise Forbidden(f"{action} in this tenant needs the role {needed}")


def can(principal: Principal, action: Action, tenant_id: str | None) -> bool:
    """Whether `authorize` would pass; for filtering lists rather than refusing."""
    if principal.is_platform_admin:
        return True
    return (
        tenant_id is not None
        and principal.tenant_id == tenant_id
        and (action in allowed_actions(principal))
    )


def require_platform_admin(principal: Principal, *, doing: str) -> None:
    if not principal.is_platform_admin:
        raise Forbidden(f"{doing} needs the role cpi-admin")
