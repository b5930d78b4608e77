"""Per-process limits: token bucket, fixed windows, and rejections that cost nothing."""

from __future__ import annotations

import calendar

from stoa.contract.snapshot import PlanEntry
from stoa.gateway.ratelimit.admission import windows
from stoa.gateway.ratelimit.local import LocalLimiter
from support.limiter_grant import grant_for


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock(1_000_000.0)
    limiter = LocalLimiter(clock)
    grant = grant_for(PlanEntry(id="p", tenant_id="t", name="p", rate_per_second=2.0, burst=3))
    assert [limiter.admit(grant).allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.admit(grant)
    assert refused.retry_after == 0.5
    clock.now += 0.5
    assert limiter.admit(grant).allowed
    assert not limiter.admit(grant).allowed


def test_rejected_calls_consume_nothing() -> None:
    clock = Clock(1_000_000.0)
    limiter = LocalLimiter(clock)
    plan = PlanEntry(id="p", tenant_id="t", name="p", per_minute=2, per_day=3)
    grant = grant_for(plan)
    assert limiter.admit(grant).remaining == 1
    assert limiter.admit(grant).remaining == 0
    for _ in range(10):
        refused = limiter.admit(grant)
        assert not refused.allowed
        assert refused.limit == 2
    clock.now += 60  # next minute: the day still has exactly one call left
    allowed = limiter.admit(grant)
    assert allowed.allowed
    assert (allowed.limit, allowed.remaining) == (3, 0)
    assert not limiter.admit(grant).allowed


def test_subscriptions_are_counted_apart() -> None:
    limiter = LocalLimiter(Clock(1_000_000.0))
    plan = PlanEntry(id="p", tenant_id="t", name="p", per_minute=1)
    assert limiter.admit(grant_for(plan, "sub_a")).allowed
    assert limiter.admit(grant_for(plan, "sub_b")).allowed
    assert not limiter.admit(grant_for(plan, "sub_a")).allowed


def test_month_window_follows_the_calendar() -> None:
    plan = PlanEntry(id="p", tenant_id="t", name="p", per_month=10)
    now = calendar.timegm((2026, 12, 31, 23, 0, 0))
    (window,) = windows(plan, now)
    assert window.start == calendar.timegm((2026, 12, 1, 0, 0, 0))
    assert window.end == calendar.timegm((2027, 1, 1, 0, 0, 0))


def test_plan_without_limits_is_unlimited() -> None:
    admission = LocalLimiter().admit(grant_for(PlanEntry(id="p", tenant_id="t", name="p")))
    assert admission.allowed
    assert admission.limit is None
