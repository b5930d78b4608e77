"""Deleting what can no longer be used: expired authorization codes, refresh tokens and
revoked-access-token entries.

Run after token responses at most every `INTERVAL_SECONDS` per process (a background task
of the response, in its own transaction), so no separate job is needed.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stoa.controlplane.models import AuthorizationCode, RefreshToken, RevokedAccessToken
from stoa.controlplane.models.base import utcnow

INTERVAL_SECONDS = 600.0
_log = logging.getLogger(__name__)
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


class Housekeeper:
    """Runs `purge_expired` when the last run is older than `INTERVAL_SECONDS`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._last = 0.0

    def claim(self) -> bool:
        """Whether a run is due; if so, the caller must `run()` (no one else will)."""
        now = time.monotonic()
        if now - self._last <= INTERVAL_SECONDS:
            return False
        self._last = now
        return True

    async def run(self) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await purge_expired(session)
        except SQLAlchemyError as exc:
            # Nothing depends on it; the next run (in INTERVAL_SECONDS) tries again.
            _log.warning("identity housekeeping failed: %s", type(exc).__name__)
