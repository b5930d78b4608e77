"""`stoa identity`: the authorization server alone, on the control plane's database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.responses import JSONResponse

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.identity.router import router
from stoa.identity.runtime import build_identity
from stoa.identity.signing_keys import ensure_signing_key
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.secret_file import private_dir
from stoa.kit.settings import Settings
from stoa.kit.ssrf import FetchPolicy


def create_identity_app(
    settings: Settings, *, client_metadata_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The identity endpoints with their own engine; the issuer is `STOA_PUBLIC_URL`.
    `client_metadata_transport` is for tests (see `runtime.build_identity`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        private_dir(settings.data_dir)
        secrets = load_platform_secrets(settings)
        engine = create_engine(settings.resolved_database_url)
        app.state.identity = identity = build_identity(
            settings,
            create_sessionmaker(engine),
            master_key=secrets.master_key,
            fetch_policy=FetchPolicy.from_settings(settings),
            client_metadata_transport=client_metadata_transport,
        )
        await ensure_signing_key(identity.sessions, identity.box)
        try:
            yield
        finally:
            await identity.aclose()
            await engine.dispose()

    app = FastAPI(title="STOA identity", version="0.1.0", lifespan=lifespan, openapi_url=None)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app.include_router(router)
    return app
