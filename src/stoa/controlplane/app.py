"""The control plane's ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane import health
from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.problems import install_problem_handlers
from stoa.controlplane.routes import ROUTERS
from stoa.controlplane.runtime import Runtime
from stoa.controlplane.snapshot import service as snapshot_service
from stoa.controlplane.snapshot.watch import Published, SnapshotWatch
from stoa.controlplane.telemetry import ControlPlaneMetrics, MetricsMiddleware
from stoa.controlplane.usage.retention import purge_old_usage
from stoa.identity.key_source import DatabaseKeySource
from stoa.identity.router import router as identity_router
from stoa.identity.runtime import build_identity
from stoa.identity.signing_keys import ensure_signing_key
from stoa.kit.crypto import SecretBox
from stoa.kit.housekeeping import Housekeeper
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.secret_file import private_dir
from stoa.kit.settings import Settings
from stoa.kit.ssrf import FetchPolicy
from stoa.kit.token_verify import KeySource, RemoteJwksSource, TokenVerifier


def create_app(settings: Settings) -> FastAPI:
    """The control plane for `settings`; the database is opened in the lifespan."""
    metrics = ControlPlaneMetrics(CollectorRegistry())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        private_dir(settings.data_dir)
        secrets = load_platform_secrets(settings)
        engine = create_engine(settings.resolved_database_url)
        sessions = create_sessionmaker(engine)
        box = SecretBox(secrets.master_key)

        async def build(session: AsyncSession) -> Published:
            return await snapshot_service.publish(session, box, secrets.key_hash_secret)

        async with httpx.AsyncClient(timeout=10.0) as jwks_client:
            keys: KeySource
            if settings.oidc_issuer:
                keys = RemoteJwksSource(
                    settings.oidc_issuer,
                    jwks_client,
                    cache_seconds=settings.auth.jwks_cache_seconds,
                )
            else:
                keys = DatabaseKeySource(sessions)
            app.state.runtime = Runtime(
                settings=settings,
                engine=engine,
                sessions=sessions,
                verifier=TokenVerifier(
                    issuer=settings.issuer,
                    audience=settings.token_audience,
                    keys=keys,
                    leeway_seconds=settings.auth.clock_skew_seconds,
                ),
                secret_box=box,
                key_hash_secret=secrets.key_hash_secret,
                fetch_policy=FetchPolicy.from_settings(settings),
                snapshot_watch=SnapshotWatch(snapshot_service.config_revision, build),
                usage_housekeeper=Housekeeper(
                    sessions,
                    lambda session: purge_old_usage(session, settings.usage),
                    name="usage",
                ),
            )
            if settings.uses_embedded_identity:
                app.state.identity = build_identity(
                    settings,
                    sessions,
                    master_key=secrets.master_key,
                    fetch_policy=app.state.runtime.fetch_policy,
                    keys=keys if isinstance(keys, DatabaseKeySource) else None,
                )
                await ensure_signing_key(sessions, app.state.identity.box)
            try:
                yield
            finally:
                if settings.uses_embedded_identity:
                    await app.state.identity.aclose()
                await engine.dispose()

    app = FastAPI(
        title="STOA control plane",
        version="0.1.0",
        description="Tenants, users, the API and tool catalog, plans, applications, "
        "subscriptions, API keys, policies and audit. Every request needs a bearer token.",
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    install_problem_handlers(app)
    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router)
    if settings.uses_embedded_identity:
        app.include_router(identity_router)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
