"""The answer of a rate-limit check, and the windows a plan defines."""

from __future__ import annotations

import calendar
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from stoa.contract.snapshot import PlanEntry


class Admission(NamedTuple):
    """Whether a call may proceed (a named tuple: built on every call, so it must be cheap).

    `limit`, `remaining` and `reset` (seconds until the window that is closest to running
    out resets) describe the tightest limit for `RateLimit-*` headers; None when the
    plan sets no limit. `retry_after` is 0 when allowed.
    """

    allowed: bool
    retry_after: float
    limit: int | None
    remaining: int | None
    reset: float | None


UNLIMITED = Admission(allowed=True, retry_after=0.0, limit=None, remaining=None, reset=None)


@dataclass(frozen=True, slots=True)
class Window:
    """A fixed counting window: `name` is part of the counter key."""

    name: str
    limit: int
    start: float
    end: float


def windows(plan: PlanEntry, now: float) -> list[Window]:
    """The fixed windows of `plan` that contain `now` (wall-clock seconds, UTC)."""
    found: list[Window] = []
    if plan.per_minute is not None:
        start = now - now % 60
        found.append(Window(f"m{int(start)}", plan.per_minute, start, start + 60))
    if plan.per_day is not None:
        start = now - now % 86400
        found.append(Window(f"d{int(start)}", plan.per_day, start, start + 86400))
    if plan.per_month is not None:
        start, end = _month_of(int(now // 86400))
        found.append(Window(f"M{int(start)}", plan.per_month, start, end))
    return found


@lru_cache(maxsize=4)
def _month_of(day: int) -> tuple[float, float]:
    """Start and end (Unix seconds) of the UTC calendar month holding `day` (days since
    the epoch); cached because calendar arithmetic costs more than the rest of a check."""
    moment = time.gmtime(day * 86400)
    start = float(calendar.timegm((moment.tm_year, moment.tm_mon, 1, 0, 0, 0)))
    year, month = (
        (moment.tm_year + 1, 1) if moment.tm_mon == 12 else (moment.tm_year, moment.tm_mon + 1)
    )
    return start, float(calendar.timegm((year, month, 1, 0, 0, 0)))


def bucket_of(plan: PlanEntry) -> tuple[float, float] | None:
    """(rate per second, capacity) of the plan's token bucket, or None without one."""
    if plan.rate_per_second is None or plan.rate_per_second <= 0:
        return None
    capacity = plan.burst if plan.burst is not None else max(1, math.ceil(plan.rate_per_second))
    return plan.rate_per_second, float(max(1, capacity))
