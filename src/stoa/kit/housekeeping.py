"""Deleting what is no longer needed, without a scheduler: a request that finds a run due
(at most every `interval_seconds` per process) starts it as a background task of its
response, in its own transaction. Several processes may run it at once; the jobs are
plain deletes by age, so that is harmless."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_log = logging.getLogger(__name__)

Job = Callable[[AsyncSession], Awaitable[None]]


class Housekeeper:
    """Runs `job` when the last run is older than `interval_seconds`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        job: Job,
        *,
        name: str,
        interval_seconds: float = 600.0,
    ) -> None:
        self._sessions = sessions
        self._job = job
        self._name = name
        self._interval = interval_seconds
        self._last = 0.0

    def claim(self) -> bool:
        """Whether a run is due; if so, the caller must `run()` (no one else will)."""
        now = time.monotonic()
        if now - self._last <= self._interval:
            return False
        self._last = now
        return True

    async def run(self) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await self._job(session)
        except SQLAlchemyError as exc:
            # Nothing depends on it; the next run tries again.
            _log.warning("%s housekeeping failed: %s", self._name, type(exc).__name__)
