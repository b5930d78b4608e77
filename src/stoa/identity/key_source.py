"""The published signing keys as a `stoa.kit.token_verify.KeySource`, read from the database.

Cached in the process; a token naming an unknown key id makes the verifier ask for a
refresh, which re-reads the table (one small query on a table of two or three rows), so a
key rotated by another process (`stoa admin rotate-signing-key`) is trusted from its first
token on. Refreshes asked for at the same time share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stoa.identity.signing_keys import published_key_set

_MAX_AGE_SECONDS = 60.0


class DatabaseKeySource:
    """Published keys from the `signing_keys` table.

    Re-read when older than a minute (retired keys drop out) or on `refresh`; callers
    that asked for a refresh while another read was running take that read's result.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keys: KeySet | None = None
        self._read_at = 0.0
        self._reads = 0
        self._lock = asyncio.Lock()

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        reads_seen = self._reads
        async with self._lock:
            stale = self._keys is None or self._clock() - self._read_at > _MAX_AGE_SECONDS
            if stale or (refresh and self._reads == reads_seen):
                async with self._sessions() as session:
                    self._keys = await published_key_set(session)
                self._read_at = self._clock()
                self._reads += 1
            assert self._keys is not None
            return self._keys
