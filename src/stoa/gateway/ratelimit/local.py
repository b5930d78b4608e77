"""Exact per-process limits: a token bucket and fixed-window counters per subscription."""

from __future__ import annotations

import time
from collections.abc import Callable

from stoa.gateway.ratelimit.admission import UNLIMITED, Admission, bucket_of, windows
from stoa.gateway.snapshot.compiled import Grant


class LocalLimiter:
    """Counters in this process. Checks every limit first and consumes only if all pass,
    so a rejected call costs nothing."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # subscription -> (tokens, at)
        self._counts: dict[tuple[str, str], int] = {}  # (subscription, window) -> used
        self._window_ends: dict[tuple[str, str], float] = {}

    def admit(self, grant: Grant) -> Admission:
        plan = grant.plan
        bucket = bucket_of(plan)
        if (
            bucket is None
            and plan.per_minute is None
            and plan.per_day is None
            and plan.per_month is None
        ):
            return UNLIMITED
        now = self._clock()
        sub = grant.subscription_id
        limit: int | None = None
        remaining: int | None = None
        reset: float | None = None
        tokens = 0.0
        if bucket is not None:
            rate, capacity = bucket
            held, at = self._buckets.get(sub, (capacity, now))
            tokens = min(capacity, held + (now - at) * rate)
            if tokens < 1.0:
                wait = (1.0 - tokens) / rate
                return Admission(False, wait, int(capacity), 0, wait)
            limit, remaining, reset = (
                int(capacity),
                int(tokens - 1.0),
                (capacity - tokens + 1.0) / rate,
            )
        current = windows(plan, now)
        for window in current:
            used = self._counts.get((sub, window.name), 0)
            if used >= window.limit:
                wait = window.end - now
                return Admission(False, wait, window.limit, 0, wait)
            left = window.limit - used - 1
            if remaining is None or left < remaining:
                limit, remaining, reset = window.limit, left, window.end - now
        if bucket is not None:
            self._buckets[sub] = (tokens - 1.0, now)
        for window in current:
            key = (sub, window.name)
            if key not in self._counts:
                self._forget_expired(now)
                self._window_ends[key] = window.end
            self._counts[key] = self._counts.get(key, 0) + 1
        return Admission(True, 0.0, limit, remaining, reset)

    def _forget_expired(self, now: float) -> None:
        # Runs only when a new window opens, so its cost is spread thin.
        expired = [key for key, end in self._window_ends.items() if end <= now]
        for key in expired:
            del self._window_ends[key]
            self._counts.pop(key, None)
