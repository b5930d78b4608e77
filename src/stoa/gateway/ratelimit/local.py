"""Exact per-process limits: a token bucket and fixed-window counters per subscription.

The same rules as the Redis script (`redis_shared`), kept as plain per-subscription state
(floats and ints in a slotted object) because this runs on every proxied call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from stoa.contract.snapshot import PlanEntry
from stoa.gateway.ratelimit.admission import UNLIMITED, Admission, _month_of, bucket_of
from stoa.gateway.snapshot.compiled import Grant

_MINUTE, _DAY, _MONTH = 0, 1, 2


class _Limits:
    """A plan's limits, read once per plan."""

    __slots__ = ("capacity", "rate", "windows")

    def __init__(self, plan: PlanEntry) -> None:
        bucket = bucket_of(plan)
        self.rate, self.capacity = bucket if bucket is not None else (0.0, 0.0)
        self.windows: tuple[tuple[int, int], ...] = tuple(
            (kind, limit)
            for kind, limit in (
                (_MINUTE, plan.per_minute),
                (_DAY, plan.per_day),
                (_MONTH, plan.per_month),
            )
            if limit is not None
        )


class _State:
    __slots__ = ("at", "counts", "ends", "tokens", "windows")

    def __init__(self, tokens: float, at: float, windows: tuple[tuple[int, int], ...]) -> None:
        self.tokens = tokens
        self.at = at
        self.windows = windows  # the limits these counters were kept for
        self.ends = [0.0] * len(windows)
        self.counts = [0] * len(windows)


def _window_end(kind: int, now: float) -> float:
    if kind == _MINUTE:
        return now - now % 60 + 60
    if kind == _DAY:
        return now - now % 86400 + 86400
    return _month_of(int(now // 86400))[1]


class LocalLimiter:
    """Counters in this process. Checks every limit first and consumes only if all pass,
    so a rejected call costs nothing."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # Plan id -> (the plan it was read from, its limits): a reloaded snapshot brings
        # new plan objects, whose limits are read again.
        self._limits: dict[str, tuple[PlanEntry, _Limits]] = {}
        self._states: dict[str, _State] = {}

    def admit(self, grant: Grant) -> Admission:
        plan = grant.plan
        cached = self._limits.get(plan.id)
        if cached is not None and cached[0] is plan:
            limits = cached[1]
        else:
            limits = _Limits(plan)
            self._limits[plan.id] = (plan, limits)
        rate = limits.rate
        windows = limits.windows
        if not rate and not windows:
            return UNLIMITED
        now = self._clock()
        state = self._states.get(grant.subscription_id)
        if state is None or state.windows != windows:
            # New, or its plan's limits changed: count afresh. (An unchanged plan in a
            # reloaded snapshot compares equal and keeps its counters.)
            state = self._states[grant.subscription_id] = _State(limits.capacity, now, windows)
        limit = remaining = None
        reset = None
        tokens = 0.0
        if rate:
            capacity = limits.capacity
            tokens = state.tokens + (now - state.at) * rate
            if tokens > capacity:
                tokens = capacity
            if tokens < 1.0:
                wait = (1.0 - tokens) / rate
                return Admission(False, wait, int(capacity), 0, wait)
            limit, remaining, reset = (
                int(capacity),
                int(tokens - 1.0),
                (capacity - tokens + 1.0) / rate,
            )
        ends = state.ends
        counts = state.counts
        for index, (kind, cap) in enumerate(windows):
            if now >= ends[index]:
                ends[index] = _window_end(kind, now)
                counts[index] = 0
            used = counts[index]
            if used >= cap:
                wait = ends[index] - now
                return Admission(False, wait, cap, 0, wait)
            if remaining is None or cap - used - 1 < remaining:
                limit, remaining, reset = cap, cap - used - 1, ends[index] - now
        if rate:
            state.tokens = tokens - 1.0
            state.at = now
        for index in range(len(windows)):
            counts[index] += 1
        return Admission(True, 0.0, limit, remaining, reset)
