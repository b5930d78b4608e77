"""Authentication: a verified bearer JWT becomes a `Principal`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import Tenant, User
from stoa.controlplane.principal import Principal
from stoa.controlplane.runtime import Runtime
from stoa.kit.errors import Unauthenticated


def claim_at(claims: dict[str, Any], dotted_path: str) -> Any:
    """The value at `a.b.c` in nested claims, or None."""
    value: Any = claims
    for part in dotted_path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an access token as `Authorization: Bearer <token>`")
    return token.strip()


async def principal_from_request(
    request: Request, runtime: Runtime, session: AsyncSession
) -> Principal:
    """Verify the bearer token and build the caller.

    The subject must be an active STOA user (service accounts included); roles and tenant
    come from the claims the settings name, so an external IdP's layout works too.
    """
    claims = await runtime.verifier.verify(bearer_token(request))
    user = await session.get(User, str(claims["sub"]))
    if user is None or user.status != "active":
        raise Unauthenticated("the token's user does not exist or is disabled")
    raw_roles = claim_at(claims, runtime.settings.auth.roles_claim) or []
    roles = frozenset(str(r) for r in raw_roles) if isinstance(raw_roles, list) else frozenset()
    tenant_slug = claim_at(claims, runtime.settings.auth.tenant_claim)
    tenant_id: str | None = None
    if isinstance(tenant_slug, str):
        tenant = await session.get(Tenant, user.tenant_id) if user.tenant_id else None
        # The token's tenant must be the user's: a token cannot move a user between tenants.
        if tenant is None or tenant.slug != tenant_slug:
            raise Unauthenticated("the token's tenant is not the user's tenant")
        tenant_id = tenant.id
    else:
        tenant_slug = None
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    return Principal(
        user_id=user.id,
        label=user.email or user.name,
        tenant_id=tenant_id,
        tenant_slug=tenant_slug,
        roles=roles,
        source_ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=request_id[:64],
    )
