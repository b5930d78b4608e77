"""What the identity endpoints share, built once at start (in the control plane's lifespan
or in `stoa identity`'s) and kept in `app.state.identity`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from stoa.identity.browser_session import BrowserSigner
from stoa.identity.client_metadata import ClientMetadataDocuments
from stoa.identity.config import IdentityConfig
from stoa.identity.housekeeping import purge_expired
from stoa.identity.key_source import DatabaseKeySource
from stoa.identity.registration import RegistrationLimiter
from stoa.identity.throttle import (
    LoginThrottle,
    MemoryThrottleStore,
    RedisThrottleStore,
    ThrottleStore,
)
from stoa.kit.crypto import SecretBox
from stoa.kit.housekeeping import Housekeeper
from stoa.kit.settings import Settings
from stoa.kit.ssrf import FetchPolicy


@dataclass(frozen=True, slots=True)
class IdentityRuntime:
    settings: Settings
    config: IdentityConfig
    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox
    signer: BrowserSigner
    keys: DatabaseKeySource
    documents: ClientMetadataDocuments
    throttle: LoginThrottle
    registrations: RegistrationLimiter
    recovery_code_secret: bytes
    housekeeper: Housekeeper
    redis: Redis | None = None

    async def aclose(self) -> None:
        """Release what `build_identity` opened (the Redis connection pool)."""
        if self.redis is not None:
            await self.redis.aclose()


def build_identity(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    master_key: bytes,
    fetch_policy: FetchPolicy,
    keys: DatabaseKeySource | None = None,
    client_metadata_transport: httpx.AsyncBaseTransport | None = None,
) -> IdentityRuntime:
    """The runtime of the embedded authorization server for `settings` (issuer
    `STOA_PUBLIC_URL`). Close with `aclose()`.

    `client_metadata_transport` replaces the network for client ID metadata documents
    (the SSRF checks still run). Sign-in throttling is shared through Redis when
    `STOA_REDIS_URL` is set (else per process); registration limits count per process.
    """
    config = IdentityConfig(
        issuer=settings.public_url,
        access_token_seconds=settings.auth.access_token_minutes * 60,
        refresh_token_seconds=settings.identity.refresh_token_days * 24 * 3600,
        login_session_seconds=settings.identity.login_session_hours * 3600,
        registrations_per_ip_per_hour=settings.identity.registrations_per_ip_per_hour,
    )
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    store: ThrottleStore = RedisThrottleStore(redis) if redis is not None else MemoryThrottleStore()
    return IdentityRuntime(
        settings=settings,
        config=config,
        sessions=sessions,
        box=SecretBox(master_key),
        signer=BrowserSigner(master_key),
        keys=keys or DatabaseKeySource(sessions),
        documents=ClientMetadataDocuments(
            fetch_policy,
            max_bytes=config.client_metadata_bytes,
            min_cache_seconds=config.client_metadata_min_cache_seconds,
            max_cache_seconds=config.client_metadata_max_cache_seconds,
            transport=client_metadata_transport,
        ),
        throttle=LoginThrottle(store),
        registrations=RegistrationLimiter(config.registrations_per_ip_per_hour),
        recovery_code_secret=hmac.new(master_key, b"stoa recovery codes", hashlib.sha256).digest(),
        housekeeper=Housekeeper(sessions, purge_expired, name="identity"),
        redis=redis,
    )


def identity_of(request: Request) -> IdentityRuntime:
    runtime: IdentityRuntime = request.app.state.identity
    return runtime
