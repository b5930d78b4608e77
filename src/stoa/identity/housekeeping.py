"""Deleting what can no longer be used: expired authorization codes, refresh tokens and
revoked-access-token entries.

Run after token responses at most every ten minutes per process (`kit.housekeeping`), so
no separate job is needed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import AuthorizationCode, RefreshToken, RevokedAccessToken
from stoa.controlplane.models.base import utcnow

# Used codes are kept a day past their expiry, so a late replay is still recognised as a
# reuse (and revokes what the code gave) rather than as an unknown code.
_CODE_GRACE = timedelta(days=1)


async def purge_expired(session: AsyncSession) -> None:
    now = utcnow()
    await session.execute(
        delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - _CODE_GRACE)
    )
    await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
    await session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now))
