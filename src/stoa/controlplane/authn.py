"""Authentication: a verified bearer JWT becomes a `Principal`.

Roles and tenant come from the claims the settings name, so an external provider's
layout works too (`stoa.kit.claim_mapping`). With the embedded issuer the subject must be
an existing STOA user; with an external one (`STOA_OIDC_ISSUER`) the user is created on
first sight (`stoa.controlplane.external_users`).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.external_users import (
    external_user_id,
    provision_external_user,
    tenant_named_by_token,
)
from stoa.controlplane.models import Tenant, User
from stoa.controlplane.principal import ALL_ROLES, Principal
from stoa.controlplane.runtime import Runtime
from stoa.kit.claim_mapping import roles_from_claims, tenant_from_claims
from stoa.kit.errors import Unauthenticated


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an access token as `Authorization: Bearer <token>`")
    return token.strip()


async def principal_from_request(
    request: Request, runtime: Runtime, session: AsyncSession
) -> Principal:
    """Verify the bearer token and build the caller; `Unauthenticated` if that fails."""
    settings = runtime.settings
    claims = await runtime.verifier.verify(bearer_token(request))
    roles = roles_from_claims(
        claims,
        path=settings.auth.roles_claim,
        role_map=settings.auth.role_map,
        known=ALL_ROLES,
    )
    tenant_slug = tenant_from_claims(claims, path=settings.auth.tenant_claim)
    source_ip = request.client.host if request.client else None
    user_agent = request.headers.get("user-agent")
    request_id = (request.headers.get("x-request-id") or uuid.uuid4().hex)[:64]
    if not settings.uses_embedded_identity:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise Unauthenticated("the token's `sub` must be a non-empty string")
        tenant = await tenant_named_by_token(session, tenant_slug)
        principal = Principal(
            user_id=external_user_id(settings.issuer, subject),
            label=_external_label(claims),
            tenant_id=tenant.id if tenant is not None else None,
            tenant_slug=tenant.slug if tenant is not None else None,
            roles=roles,
            source_ip=source_ip,
            user_agent=user_agent,
            request_id=request_id,
        )
        await provision_external_user(session, claims=claims, principal=principal)
        return principal

    user = await session.get(User, str(claims["sub"]))
    if user is None or user.status != "active":
        raise Unauthenticated("the token's user does not exist or is disabled")
    tenant_id: str | None = None
    if tenant_slug is not None:
        tenant = await session.get(Tenant, user.tenant_id) if user.tenant_id else None
        # The token's tenant must be the user's: a token cannot move a user between tenants.
        if tenant is None or tenant.slug != tenant_slug:
            raise Unauthenticated("the token's tenant is not the user's tenant")
        tenant_id = tenant.id
    return Principal(
        user_id=user.id,
        label=user.email or user.name,
        tenant_id=tenant_id,
        tenant_slug=tenant_slug,
        roles=roles,
        source_ip=source_ip,
        user_agent=user_agent,
        request_id=request_id,
    )


def _external_label(claims: dict[str, Any]) -> str:
    for name in ("email", "preferred_username", "name", "sub"):
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return str(claims["sub"])[:200]
