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
    """One subscription's counters.

    Windows are counted from one running `total` (calls admitted so far): window i has
    seen `total - bases[i]` calls since it began. An admitted call then costs one
    increment whatever the number of windows, and since every window counts the same
    calls, the one with the least room (`tight`) stays the same until a window rolls
    over, which is checked once per call against `next_end` (the earliest window end).
    """

    __slots__ = ("at", "bases", "ends", "grant", "limits", "next_end", "tight", "tokens", "total")

    def __init__(self, grant: Grant, limits: _Limits, now: float) -> None:
        self.grant = grant  # the grant this state was last looked up for
        self.limits = limits
        self.tokens = limits.capacity
        self.at = now
        self.total = 0
        self.bases = [0] * len(limits.windows)
        self.ends = [0.0] * len(limits.windows)
        self.next_end = 0.0  # every window starts on the first call
        self.tight = 0


def _window_end(kind: int, now: float) -> float:
    if kind == _MINUTE:
        return now - now % 60 + 60
    if kind == _DAY:
        return now - now % 86400 + 86400
    return _month_of(int(now // 86400))[1]


def _roll(state: _State, windows: tuple[tuple[int, int], ...], now: float) -> None:
    """Start the windows that have ended, and find the one with the least room."""
    ends, bases, total = state.ends, state.bases, state.total
    for index, (kind, _cap) in enumerate(windows):
        if now >= ends[index]:
            ends[index] = _window_end(kind, now)
            bases[index] = total
    state.next_end = min(ends)
    rooms = [cap - (total - bases[index]) for index, (_kind, cap) in enumerate(windows)]
    state.tight = rooms.index(min(rooms))  # the first of equals, as the headers promise


def _refused(state: _State, windows: tuple[tuple[int, int], ...], now: float) -> Admission:
    """The answer when a window is used up: the first one in order (minute, day, month)."""
    for index, (_kind, cap) in enumerate(windows):
        if state.total - state.bases[index] >= cap:
            wait = state.ends[index] - now
            return Admission(False, wait, cap, 0, wait)
    raise AssertionError("refused without a used-up window")


class LocalLimiter:
    """Counters in this process. Checks every limit first and consumes only if all pass,
    so a rejected call costs nothing."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # Plan id -> (the plan it was read from, its limits): a reloaded snapshot brings
        # new plan objects, whose limits are read again.
        self._limits: dict[str, tuple[PlanEntry, _Limits]] = {}
        self._states: dict[str, _State] = {}

    def _state_for(self, grant: Grant) -> _State:
        """The state of `grant`'s subscription, on the first call under this grant object
        (a new subscription, or a reloaded snapshot)."""
        plan = grant.plan
        cached = self._limits.get(plan.id)
        if cached is not None and cached[0] is plan:
            limits = cached[1]
        else:
            limits = _Limits(plan)
            self._limits[plan.id] = (plan, limits)
        state = self._states.get(grant.subscription_id)
        if state is not None and state.limits.windows == limits.windows:
            # An unchanged plan in a reloaded snapshot keeps its counters.
            state.grant = grant
            state.limits = limits
            return state
        # New, or its plan's limits changed: count afresh.
        state = self._states[grant.subscription_id] = _State(grant, limits, self._clock())
        return state

    def admit(self, grant: Grant) -> Admission:
        state = self._states.get(grant.subscription_id)
        if state is None or state.grant is not grant:
            state = self._state_for(grant)
        limits = state.limits
        rate = limits.rate
        windows = limits.windows
        if not rate and not windows:
            return UNLIMITED
        now = self._clock()
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
        if windows:
            if now >= state.next_end:
                _roll(state, windows, now)
            tight = state.tight
            cap = windows[tight][1]
            room = cap - (state.total - state.bases[tight])
            if room <= 0:
                return _refused(state, windows, now)
            if remaining is None or room - 1 < remaining:
                limit, remaining, reset = cap, room - 1, state.ends[tight] - now
            state.total += 1
        if rate:
            state.tokens = tokens - 1.0
            state.at = now
        return Admission(True, 0.0, limit, remaining, reset)
