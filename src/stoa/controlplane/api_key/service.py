"""Rules for API keys.

Keys belong to an application: whoever may read the application lists its keys (prefixes
only), whoever manages it issues, rotates and revokes them. The secret exists only in the
response that issues it; the table holds its prefix and HMAC digest, and audit entries
never see the digest (`audit.snapshot_of` drops it).

A key's state is derived when it is read: `revoked` (revoked by hand), `expired` (its
`expires_at` has passed), `rotating` (replaced by a newer key, still valid until
`expires_at`), else `active`. The gateway snapshot serves unrevoked, unexpired keys, so a
rotating key keeps working through its grace period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.api_key import repository
from stoa.controlplane.api_key.schemas import ApiKeyCreate, ApiKeyRotate
from stoa.controlplane.application import service as applications
from stoa.controlplane.audit import service as audit
from stoa.controlplane.models import ApiKey, Application
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.principal import Principal
from stoa.kit.api_key import generate_key
from stoa.kit.errors import Conflict, InvalidInput, NotFound
from stoa.kit.ids import new_id


@dataclass(frozen=True, slots=True)
class KeyView:
    """A key as `ApiKeyOut` shows it: never the secret or the digest."""

    id: str
    application_id: str
    name: str
    prefix: str
    status: str
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedKey(KeyView):
    """A new key and its secret, for the one response that shows it."""

    secret: str
    replaces: KeyView | None = None


def key_state(key: ApiKey, now: datetime) -> str:
    """revoked, expired, rotating or active; `repository.listing` filters the same way."""
    if key.status == "revoked":
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    if key.replaced_by_id is not None:
        return "rotating"
    return "active"


def _view(key: ApiKey, now: datetime) -> KeyView:
    return KeyView(
        id=key.id,
        application_id=key.application_id,
        name=key.name,
        prefix=key.prefix,
        status=key_state(key, now),
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        replaced_by_id=key.replaced_by_id,
        created_at=key.created_at,
    )


async def list_keys(
    session: AsyncSession,
    actor: Principal,
    application_id: str,
    page: PageRequest,
    *,
    state: str | None,
) -> tuple[Sequence[KeyView], str | None]:
    application = await applications.readable_application(session, actor, application_id)
    now = utcnow()
    statement = repository.listing(application.id, state=state, now=now)
    keys, cursor = await fetch_page(session, statement, ApiKey.id, page)
    return [_view(key, now) for key in keys], cursor


async def get_key(
    session: AsyncSession, actor: Principal, application_id: str, key_id: str
) -> KeyView:
    application = await applications.readable_application(session, actor, application_id)
    return _view(await _key_of(session, application, key_id), utcnow())


async def create_key(
    session: AsyncSession,
    actor: Principal,
    hash_secret: bytes,
    application_id: str,
    data: ApiKeyCreate,
) -> IssuedKey:
    """Issue a key for an application the caller manages; `expires_at` must be ahead."""
    application = await applications.managed_application(session, actor, application_id)
    now = utcnow()
    expires_at = _future_utc(data.expires_at, now)
    key, secret = await _issue(session, actor, hash_secret, application, data.name, expires_at)
    return _issued(key, secret, now)


async def rotate_key(
    session: AsyncSession,
    actor: Principal,
    hash_secret: bytes,
    application_id: str,
    key_id: str,
    data: ApiKeyRotate,
) -> IssuedKey:
    """Issue a successor under the same name; the old key keeps working for
    `grace_seconds` (or until its own expiry, if sooner), then expires."""
    application = await applications.managed_application(session, actor, application_id)
    old = await _key_of(session, application, key_id)
    if old.status == "revoked":
        raise Conflict(f"key {old.id} is revoked; create a new key instead of rotating it")
    if old.replaced_by_id is not None:
        raise Conflict(
            f"key {old.id} was already rotated; rotate its successor {old.replaced_by_id}"
        )
    now = utcnow()
    expires_at = _future_utc(data.expires_at, now)
    new, secret = await _issue(session, actor, hash_secret, application, old.name, expires_at)
    before = audit.snapshot_of(old)
    grace_end = now + timedelta(seconds=data.grace_seconds)
    old.expires_at = grace_end if old.expires_at is None else min(old.expires_at, grace_end)
    old.replaced_by_id = new.id
    await session.flush()
    await audit.record(
        session,
        actor,
        action="api_key.rotate",
        target_type="api_key",
        target_id=old.id,
        tenant_id=application.tenant_id,
        before=before,
        after=audit.snapshot_of(old),
    )
    return _issued(new, secret, now, replaces=_view(old, now))


async def revoke_key(
    session: AsyncSession, actor: Principal, application_id: str, key_id: str
) -> KeyView:
    """Stop the key at the next gateway sync. Revoking twice is a conflict, so a script
    learns that the key it meant was already gone."""
    application = await applications.managed_application(session, actor, application_id)
    key = await _key_of(session, application, key_id)
    if key.status == "revoked":
        assert key.revoked_at is not None
        raise Conflict(f"key {key.id} was already revoked at {key.revoked_at.isoformat()}")
    now = utcnow()
    before = audit.snapshot_of(key)
    key.status, key.revoked_at = "revoked", now
    await session.flush()
    await audit.record(
        session,
        actor,
        action="api_key.revoke",
        target_type="api_key",
        target_id=key.id,
        tenant_id=application.tenant_id,
        before=before,
        after=audit.snapshot_of(key),
    )
    return _view(key, now)


async def _key_of(session: AsyncSession, application: Application, key_id: str) -> ApiKey:
    key = await repository.by_id(session, application.id, key_id)
    if key is None:
        raise NotFound(f"key {key_id} does not exist in application {application.name}")
    return key


def _future_utc(expires_at: datetime | None, now: datetime) -> datetime | None:
    """`expires_at` in UTC, if it is ahead of `now`; `InvalidInput` if it has passed."""
    if expires_at is None:
        return None
    if expires_at <= now:
        message = f"expires_at {expires_at.isoformat()} has passed; give a time in the future"
        raise InvalidInput(message, errors=[{"field": "expires_at", "message": message}])
    return expires_at.astimezone(UTC)


async def _issue(
    session: AsyncSession,
    actor: Principal,
    hash_secret: bytes,
    application: Application,
    name: str,
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    generated = generate_key(hash_secret)
    key = ApiKey(
        id=new_id("key"),
        application_id=application.id,
        name=name,
        prefix=generated.prefix,
        digest=generated.digest,
        status="active",
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="api_key.create",
        target_type="api_key",
        target_id=key.id,
        tenant_id=application.tenant_id,
        after=audit.snapshot_of(key),
    )
    return key, generated.secret


def _issued(key: ApiKey, secret: str, now: datetime, replaces: KeyView | None = None) -> IssuedKey:
    view = _view(key, now)
    return IssuedKey(
        id=view.id,
        application_id=view.application_id,
        name=view.name,
        prefix=view.prefix,
        status=view.status,
        expires_at=view.expires_at,
        revoked_at=view.revoked_at,
        replaced_by_id=view.replaced_by_id,
        created_at=view.created_at,
        secret=secret,
        replaces=replaces,
    )
