"""The MCP sessions a worker opened that are still alive, for the active-sessions gauge.

Sessions are signed tokens, not server state, so nothing else knows when one ends: it
ends when its client sends DELETE (to any worker) or when its lifetime runs out. This
counts the sessions this worker issued until either happens here; a session ended
through another worker is counted until it expires. Read at scrape time.
"""

from __future__ import annotations

import heapq
import time
from typing import Final

# A worker flooded with initialize requests keeps counting, but stops remembering more.
_MAX_TRACKED: Final = 100_000


class LiveSessions:
    def __init__(self) -> None:
        self._expiry: dict[str, int] = {}  # nonce -> Unix second it expires
        self._by_time: list[tuple[int, str]] = []

    def opened(self, nonce: str, expires_at: int) -> None:
        if len(self._expiry) >= _MAX_TRACKED:
            self._prune(int(time.time()))
            if len(self._expiry) >= _MAX_TRACKED:
                return
        self._expiry[nonce] = expires_at
        heapq.heappush(self._by_time, (expires_at, nonce))

    def ended(self, nonce: str) -> None:
        self._expiry.pop(nonce, None)

    def count(self, now: float | None = None) -> int:
        self._prune(int(time.time() if now is None else now))
        return len(self._expiry)

    def _prune(self, now: int) -> None:
        by_time = self._by_time
        while by_time and by_time[0][0] <= now:
            _, nonce = heapq.heappop(by_time)
            self._expiry.pop(nonce, None)
        if len(by_time) > 2 * len(self._expiry) + 1024:
            # Ended sessions leave their heap entries behind: rebuild now and then.
            self._by_time = [(expires, nonce) for nonce, expires in self._expiry.items()]
            heapq.heapify(self._by_time)
