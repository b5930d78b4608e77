"""What `stoa admin` does, through the same services as the API (so it is audited).

Each function opens its own engine and transaction; the actor is the local operator, who
is trusted because they can read the data dir.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.db import create_engine, create_sessionmaker, session_scope
from stoa.controlplane.gateway_fleet import service as fleet
from stoa.controlplane.gateway_fleet.schemas import GatewayTokenCreate
from stoa.controlplane.gateway_fleet.service import IssuedToken
from stoa.controlplane.models import Tenant
from stoa.controlplane.principal import PLATFORM_ADMIN, Principal
from stoa.controlplane.tenant import service as tenant_service
from stoa.controlplane.tenant.repository import by_slug
from stoa.controlplane.tenant.schemas import TenantCreate
from stoa.controlplane.user import service as user_service
from stoa.controlplane.user.schemas import ServiceAccountCreate, UserCreate
from stoa.controlplane.user.service import CreatedServiceAccount, CreatedUser
from stoa.identity.signing_keys import current_signing_key, rotate_signing_key
from stoa.identity.tokens import mint_access_token
from stoa.kit.crypto import SecretBox
from stoa.kit.errors import InvalidInput, NotFound, Unauthenticated
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.settings import Settings

LOCAL_OPERATOR = Principal(
    user_id="system:cli",
    label="local operator (stoa admin)",
    tenant_id=None,
    tenant_slug=None,
    roles=frozenset({PLATFORM_ADMIN}),
    source_ip="local",
    user_agent="stoa-cli",
)

# `developer` is not a role: it means a tenant member without one.
DEVELOPER = "developer"


@asynccontextmanager
async def transaction(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings.resolved_database_url)
    try:
        async for session in session_scope(create_sessionmaker(engine)):
            yield session
    finally:
        await engine.dispose()


async def _ensure_tenant(session: AsyncSession, slug: str | None, *, create: bool) -> None:
    if slug is None or await by_slug(session, slug) is not None:
        return
    if not create:
        raise NotFound(f"tenant {slug} does not exist; add --create-tenant to create it")
    await tenant_service.create_tenant(
        session, LOCAL_OPERATOR, TenantCreate(slug=slug, name=slug.replace("-", " ").title())
    )


def _roles(roles: Sequence[str]) -> list[str]:
    return [role for role in roles if role != DEVELOPER]


async def create_user(
    settings: Settings,
    *,
    email: str,
    roles: Sequence[str],
    tenant: str | None,
    name: str | None = None,
    password: str | None = None,
    create_tenant: bool = False,
) -> CreatedUser:
    async with transaction(settings) as session:
        await _ensure_tenant(session, tenant, create=create_tenant)
        data = UserCreate.model_validate(
            {
                "email": email,
                "name": name or email.split("@")[0],
                "tenant": tenant,
                "roles": _roles(roles),
                "password": password,
            }
        )
        return await user_service.create_user(session, LOCAL_OPERATOR, data)


async def create_service_account(
    settings: Settings,
    *,
    name: str,
    roles: Sequence[str],
    tenant: str | None,
    create_tenant: bool = False,
) -> CreatedServiceAccount:
    async with transaction(settings) as session:
        await _ensure_tenant(session, tenant, create=create_tenant)
        data = ServiceAccountCreate.model_validate(
            {"name": name, "tenant": tenant, "roles": _roles(roles)}
        )
        return await user_service.create_service_account(session, LOCAL_OPERATOR, data)


async def issue_token(settings: Settings, login: str, *, minutes: int) -> str:
    """An access token for the user or service account `login` (email or client id),
    carrying their current roles and tenant, for this control plane's audience."""
    if minutes < 1 or minutes > 24 * 60:
        raise InvalidInput("--minutes must be between 1 and 1440")
    async with transaction(settings) as session:
        user = await user_service.find_login(session, login)
        if user is None:
            raise NotFound(f"no user or service account {login}")
        if user.status != "active":
            raise Unauthenticated(f"{login} is disabled")
        roles = await user_service.roles_of(session, user)
        tenant = await session.get(Tenant, user.tenant_id) if user.tenant_id else None
        key = await current_signing_key(session, _secret_box(settings))
    return mint_access_token(
        key,
        issuer=settings.issuer,
        audience=settings.token_audience,
        subject=user.id,
        roles=roles,
        tenant=tenant.slug if tenant else None,
        email=user.email,
        lifetime_seconds=minutes * 60,
    )


def _secret_box(settings: Settings) -> SecretBox:
    return SecretBox(load_platform_secrets(settings).master_key)


async def rotate_key(settings: Settings) -> str:
    """Rotate the identity service's signing key; returns the new key id. The previous
    key stays published until the tokens it signed have expired."""
    async with transaction(settings) as session:
        kid = await rotate_signing_key(session, _secret_box(settings))
        await audit.record(
            session,
            LOCAL_OPERATOR,
            action="signing_key.rotate",
            target_type="signing_key",
            target_id=kid,
            tenant_id=None,
            after={"kid": kid},
        )
        return kid


async def create_gateway_token(settings: Settings, *, name: str) -> IssuedToken:
    """A gateway token named `name`, through the same service as the API (audited)."""
    data = GatewayTokenCreate.model_validate({"name": name})
    async with transaction(settings) as session:
        return await fleet.create_token(
            session, LOCAL_OPERATOR, load_platform_secrets(settings).key_hash_secret, data
        )
