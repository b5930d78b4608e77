"""The identity service's token signing keys, stored encrypted in the database.

The newest key that is not retired signs. Rotation retires it and adds a new one; a
retired key stays published (JWKS) until `MAX_TOKEN_LIFETIME` after its retirement, so
every token it signed can still be verified until it expires, and is then deleted.

Private keys are encrypted with the platform master key (`SecretBox`, the key id as
authenticated context, so a ciphertext moved onto another row does not decrypt).
"""

from __future__ import annotations

import json
import logging
import weakref
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stoa.controlplane.models import SigningKey
from stoa.controlplane.models.base import utcnow
from stoa.kit.crypto import SecretBox
from stoa.kit.ids import new_id

ALGORITHM = "ES256"
_log = logging.getLogger(__name__)

MAX_TOKEN_LIFETIME = timedelta(hours=24)
"""The longest lifetime of any token we sign (`stoa admin token --minutes 1440`)."""


def _generate() -> ECKey:
    return ECKey.generate_key(
        "P-256",
        parameters={"kid": new_id("sig"), "alg": ALGORITHM, "use": "sig"},
        private=True,
    )


def _row_for(key: ECKey, box: SecretBox) -> SigningKey:
    kid = str(key.kid)
    return SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        private_jwk_encrypted=box.encrypt(json.dumps(key.as_dict(private=True)), context=kid),
        public_jwk=dict(key.as_dict(private=False)),
    )


# Decrypted keys per master key (box), so signing does not decrypt on every token.
_DECRYPTED: weakref.WeakKeyDictionary[SecretBox, dict[tuple[str, str], ECKey]] = (
    weakref.WeakKeyDictionary()
)


def _private_key(row: SigningKey, box: SecretBox) -> ECKey:
    known = _DECRYPTED.setdefault(box, {})
    cache_key = (row.kid, row.private_jwk_encrypted)
    key = known.get(cache_key)
    if key is None:
        plain = box.decrypt(row.private_jwk_encrypted, context=row.kid)
        key = known[cache_key] = ECKey.import_key(json.loads(plain))
    return key


async def _active(session: AsyncSession) -> SigningKey | None:
    return await session.scalar(
        select(SigningKey)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
        .limit(1)
    )


async def current_signing_key(session: AsyncSession, box: SecretBox) -> ECKey:
    """The private key that signs now, generated (and added to `session`) on first use.

    Raises `stoa.kit.crypto.DecryptionError` if the stored key was encrypted under
    another master key.
    """
    row = await _active(session)
    if row is None:
        key = _generate()
        session.add(_row_for(key, box))
        await session.flush()
        return key
    return _private_key(row, box)


async def published_key_set(session: AsyncSession, *, now: datetime | None = None) -> KeySet:
    """The public keys verifiers must trust: the signing key and the retired keys whose
    tokens may not have expired yet. Never contains private parts."""
    moment = now or utcnow()
    rows = await session.scalars(select(SigningKey).order_by(SigningKey.created_at))
    published: list[Any] = [
        row.public_jwk for row in rows if row.publish_until is None or row.publish_until > moment
    ]
    if not published:
        return KeySet([])
    return KeySet.import_key_set({"keys": published})


async def ensure_signing_key(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
    """Generate the first signing key at start, so the JWKS is never empty.

    A database without the schema yet (`stoa migrate` not run) is left alone: the key is
    then generated on first use.
    """
    try:
        async with sessions() as session, session.begin():
            await current_signing_key(session, box)
    except SQLAlchemyError as exc:
        _log.warning("no signing key generated at start: %s", type(exc).__name__)


async def rotate_signing_key(
    session: AsyncSession, box: SecretBox, *, now: datetime | None = None
) -> str:
    """Retire the signing key (still published for `MAX_TOKEN_LIFETIME`), add a new one,
    and delete keys no unexpired token can carry any more. Returns the new key id."""
    moment = now or utcnow()
    for row in await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = moment
        row.publish_until = moment + MAX_TOKEN_LIFETIME
    await session.execute(delete(SigningKey).where(SigningKey.publish_until <= moment))
    fresh = _generate()
    session.add(_row_for(fresh, box))
    await session.flush()
    return str(fresh.kid)
