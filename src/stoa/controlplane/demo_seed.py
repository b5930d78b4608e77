"""The demo that `stoa up` seeds: tenant `demo`, its admin and developer, a plan, the
`weather` REST API and the `toolbox` MCP server, the developer's application subscribed to
both, and an API key.

Seeding is idempotent: a second `stoa up` finds what exists, points the APIs at the demo
upstreams' current URLs, and keeps the logins and key recorded in `$STOA_DATA_DIR/demo.env`.
Everything goes through the services, as the demo admin and developer would act, so the
audit log tells the story; it runs in one transaction, so a failure leaves nothing half-made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.api_key import service as key_service
from stoa.controlplane.api_key.schemas import ApiKeyCreate
from stoa.controlplane.application import service as application_service
from stoa.controlplane.application.schemas import ApplicationCreate
from stoa.controlplane.catalog import service as catalog_service
from stoa.controlplane.catalog.schemas import ApiCreate, ApiUpdate
from stoa.controlplane.catalog.upstream_source import Upstream
from stoa.controlplane.db import create_engine, create_sessionmaker, session_scope
from stoa.controlplane.models import Api, ApiKey, Application, Plan, Subscription, Tenant, User
from stoa.controlplane.plan import service as plan_service
from stoa.controlplane.plan.schemas import PlanCreate
from stoa.controlplane.principal import PLATFORM_ADMIN, Principal
from stoa.controlplane.subscription import service as subscription_service
from stoa.controlplane.subscription.schemas import SubscriptionCreate
from stoa.controlplane.tenant import service as tenant_service
from stoa.controlplane.tenant.repository import by_slug
from stoa.controlplane.tenant.schemas import TenantCreate
from stoa.controlplane.user import service as user_service
from stoa.controlplane.user.schemas import UserCreate, UserUpdate
from stoa.demo.weather import WEATHER_OPENAPI_PATH
from stoa.kit.api_key import key_digest
from stoa.kit.crypto import SecretBox
from stoa.kit.errors import NotFound
from stoa.kit.passwords import generate_password, verify_password
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.settings import Settings
from stoa.kit.ssrf import FetchPolicy, SafeFetcher

TENANT = "demo"
ADMIN_EMAIL = "admin@demo.local"
DEVELOPER_EMAIL = "dev@demo.local"
PLAN = "starter"
APPLICATION = "demo-app"

OPERATOR = Principal(
    user_id="system:stoa-up",
    label="stoa up (demo seed)",
    tenant_id=None,
    tenant_slug=None,
    roles=frozenset({PLATFORM_ADMIN}),
    source_ip="local",
    user_agent="stoa up",
)


class DemoUpstreams(Protocol):
    """Where the demo upstreams answer (`stoa.demo.serve.DemoUrls` has this shape)."""

    @property
    def weather_base_url(self) -> str: ...
    @property
    def toolbox_mcp_url(self) -> str: ...


@dataclass(frozen=True, slots=True)
class DemoLogins:
    admin_email: str
    admin_password: str
    developer_email: str
    developer_password: str
    api_key: str
    env_file: Path


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


def _write_env(path: Path, values: dict[str, str]) -> None:
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# STOA demo logins and API key, written by `stoa up`. Keep private.\n")
        handle.writelines(f"{name}={value}\n" for name, value in values.items())
    os.replace(temporary, path)


def _acting_as(user: User, tenant: Tenant, roles: frozenset[str]) -> Principal:
    return Principal(
        user_id=user.id,
        label=user.email or user.name,
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        roles=roles,
        source_ip="local",
        user_agent="stoa up",
    )


async def _ensure_user(
    session: AsyncSession, tenant: Tenant, email: str, roles: list[str], password: str | None
) -> tuple[User, str]:
    """The user and their password: the recorded one if it still matches, else a new one."""
    user = await user_service.find_login(session, email)
    if user is None:
        created = await user_service.create_user(
            session,
            OPERATOR,
            UserCreate.model_validate(
                {
                    "email": email,
                    "name": email.split("@")[0],
                    "tenant": tenant.slug,
                    "roles": roles,
                    "password": password,
                }
            ),
        )
        assert created.initial_password is not None or password is not None
        return created.user, password or created.initial_password or ""
    if password is None or not verify_password(user.password_hash, password):
        password = generate_password()
        await user_service.update_user(
            session, OPERATOR, user.id, UserUpdate(password=password, status="active")
        )
    return user, password


async def _ensure_api(
    session: AsyncSession,
    admin: Principal,
    tenant: Tenant,
    upstream: Upstream,
    create: ApiCreate,
    update: ApiUpdate,
) -> None:
    """Create the API, or point the existing one at the upstream's current URL; publish it."""
    try:
        await catalog_service.get_api(session, admin, tenant, create.name)
    except NotFound:
        view = await catalog_service.create_api(session, admin, tenant, create, upstream)
    else:
        view = await catalog_service.update_api(
            session, admin, tenant, create.name, update, upstream
        )
    if view.lifecycle == "draft":
        await catalog_service.move_lifecycle(session, admin, tenant, create.name, "published")


async def _ensure_plan(session: AsyncSession, admin: Principal, tenant: Tenant) -> None:
    exists = await session.scalar(
        select(Plan.id).where(Plan.tenant_id == tenant.id, Plan.name == PLAN)
    )
    if exists is None:
        await plan_service.create_plan(
            session,
            admin,
            tenant,
            PlanCreate(
                name=PLAN,
                description="Demo plan: 10 calls per second (bursts of 20), 10,000 a day",
                rate_per_second=10,
                burst=20,
                per_minute=600,
                per_day=10_000,
                per_month=100_000,
            ),
        )


async def _ensure_application(session: AsyncSession, developer: Principal) -> str:
    found = await session.scalar(
        select(Application.id).where(
            Application.owner_id == developer.user_id, Application.name == APPLICATION
        )
    )
    if found is not None:
        return found
    created = await application_service.create_application(
        session,
        developer,
        ApplicationCreate(name=APPLICATION, description="The demo developer's agent"),
    )
    return created.id


async def _ensure_subscription(
    session: AsyncSession, developer: Principal, application_id: str, api_name: str
) -> None:
    live = await session.scalar(
        select(Subscription.id)
        .join(Api, Api.id == Subscription.api_id)
        .where(
            Subscription.application_id == application_id,
            Api.name == api_name,
            Subscription.status.in_(("pending", "active", "suspended")),
        )
    )
    if live is None:
        await subscription_service.create_subscription(
            session,
            developer,
            SubscriptionCreate.model_validate(
                {
                    "application_id": application_id,
                    "api": {"tenant": TENANT, "name": api_name},
                    "plan": PLAN,
                }
            ),
        )


async def _ensure_key(
    session: AsyncSession,
    developer: Principal,
    hash_secret: bytes,
    application_id: str,
    recorded: str | None,
) -> str:
    """The recorded key if it still works, else a new one."""
    if recorded:
        usable = await session.scalar(
            select(ApiKey.id).where(
                ApiKey.digest == key_digest(hash_secret, recorded), ApiKey.status == "active"
            )
        )
        if usable is not None:
            return recorded
    issued = await key_service.create_key(
        session, developer, hash_secret, application_id, ApiKeyCreate(name="demo")
    )
    return issued.secret


async def _seed(
    session: AsyncSession,
    settings: Settings,
    urls: DemoUpstreams,
    recorded: dict[str, str],
    upstream: Upstream,
    hash_secret: bytes,
) -> dict[str, str]:
    tenant = await by_slug(session, TENANT)
    if tenant is None:
        tenant = await tenant_service.create_tenant(
            session, OPERATOR, TenantCreate(slug=TENANT, name="Demo")
        )
    admin_user, admin_password = await _ensure_user(
        session, tenant, ADMIN_EMAIL, ["tenant-admin"], recorded.get("STOA_DEMO_ADMIN_PASSWORD")
    )
    developer_user, developer_password = await _ensure_user(
        session, tenant, DEVELOPER_EMAIL, [], recorded.get("STOA_DEMO_DEVELOPER_PASSWORD")
    )
    admin = _acting_as(admin_user, tenant, frozenset({"tenant-admin"}))
    developer = _acting_as(developer_user, tenant, frozenset())

    await _ensure_plan(session, admin, tenant)
    weather_doc = WEATHER_OPENAPI_PATH.read_text()
    await _ensure_api(
        session,
        admin,
        tenant,
        upstream,
        ApiCreate.model_validate(
            {
                "name": "weather",
                "title": "Weather",
                "kind": "rest",
                "visibility": "public",
                "description": "Forecasts for any city (demo REST API, works offline)",
                "openapi": weather_doc,
                "backend_url": urls.weather_base_url,
            }
        ),
        ApiUpdate.model_validate({"backend_url": urls.weather_base_url}),
    )
    await _ensure_api(
        session,
        admin,
        tenant,
        upstream,
        ApiCreate.model_validate(
            {
                "name": "toolbox",
                "title": "Toolbox",
                "kind": "mcp",
                "visibility": "public",
                "description": "Small utility tools: echo, add (demo MCP server)",
                "mcp_url": urls.toolbox_mcp_url,
            }
        ),
        ApiUpdate.model_validate({"mcp_url": urls.toolbox_mcp_url}),
    )
    application_id = await _ensure_application(session, developer)
    for api_name in ("weather", "toolbox"):
        await _ensure_subscription(session, developer, application_id, api_name)
    api_key = await _ensure_key(
        session, developer, hash_secret, application_id, recorded.get("STOA_DEMO_API_KEY")
    )
    return {
        "STOA_DEMO_CONTROL_PLANE_URL": settings.public_url,
        "STOA_DEMO_ADMIN_EMAIL": ADMIN_EMAIL,
        "STOA_DEMO_ADMIN_PASSWORD": admin_password,
        "STOA_DEMO_DEVELOPER_EMAIL": DEVELOPER_EMAIL,
        "STOA_DEMO_DEVELOPER_PASSWORD": developer_password,
        "STOA_DEMO_APPLICATION_ID": application_id,
        "STOA_DEMO_API_KEY": api_key,
    }


async def seed_demo(settings: Settings, urls: DemoUpstreams) -> DemoLogins:
    """Seed (or re-check) the demo and write `$STOA_DATA_DIR/demo.env` (mode 0600)."""
    env_file = settings.data_dir / "demo.env"
    secrets = load_platform_secrets(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with SafeFetcher(FetchPolicy.from_settings(settings)) as fetcher:
            upstream = Upstream(fetcher=fetcher, secret_box=SecretBox(secrets.master_key))
            async for session in session_scope(create_sessionmaker(engine)):
                values = await _seed(
                    session,
                    settings,
                    urls,
                    _read_env(env_file),
                    upstream,
                    secrets.key_hash_secret,
                )
    finally:
        await engine.dispose()
    _write_env(env_file, values)
    return DemoLogins(
        admin_email=ADMIN_EMAIL,
        admin_password=values["STOA_DEMO_ADMIN_PASSWORD"],
        developer_email=DEVELOPER_EMAIL,
        developer_password=values["STOA_DEMO_DEVELOPER_PASSWORD"],
        api_key=values["STOA_DEMO_API_KEY"],
        env_file=env_file,
    )
