"""Signing keys live encrypted in the database; rotation keeps the old key published."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest
from joserfc import jwt
from sqlalchemy import select

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.migrate import upgrade_to_head
from stoa.controlplane.models import SigningKey
from stoa.controlplane.models.base import utcnow
from stoa.identity.signing_keys import (
    MAX_TOKEN_LIFETIME,
    current_signing_key,
    published_key_set,
    rotate_signing_key,
)
from stoa.identity.tokens import mint_access_token
from stoa.kit.crypto import DecryptionError, SecretBox


def _run(url: str, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    asyncio.run(upgrade_to_head(url))
    return url


def test_key_is_generated_once_and_stored_encrypted(database: str) -> None:
    box = SecretBox(os.urandom(32))
    first = _run(database, lambda s: current_signing_key(s, box))
    again = _run(database, lambda s: current_signing_key(s, box))
    assert first.kid == again.kid
    row = _run(database, lambda s: s.scalar(select(SigningKey)))
    assert first.as_dict(private=True)["d"] not in row.private_jwk_encrypted
    assert "d" not in row.public_jwk
    with pytest.raises(DecryptionError):
        _run(database, lambda s: current_signing_key(s, SecretBox(os.urandom(32))))


def test_tokens_signed_before_rotation_verify_until_the_old_key_expires(database: str) -> None:
    box = SecretBox(os.urandom(32))
    old = _run(database, lambda s: current_signing_key(s, box))
    old_token = mint_access_token(
        old, issuer="i", audience="a", subject="usr_1", roles=[], tenant=None
    )
    new_kid = _run(database, lambda s: rotate_signing_key(s, box))
    new = _run(database, lambda s: current_signing_key(s, box))
    assert new.kid == new_kid != old.kid

    keys = _run(database, published_key_set)
    assert jwt.decode(old_token, keys).claims["sub"] == "usr_1"
    assert all("d" not in key for key in keys.as_dict()["keys"])

    later = utcnow() + MAX_TOKEN_LIFETIME + timedelta(seconds=1)
    assert [k.kid for k in _run(database, lambda s: published_key_set(s, now=later)).keys] == [
        new_kid
    ]
    _run(database, lambda s: rotate_signing_key(s, box, now=later))
    kids = _run(database, lambda s: s.scalars(select(SigningKey.kid)))
    assert old.kid not in list(kids)
