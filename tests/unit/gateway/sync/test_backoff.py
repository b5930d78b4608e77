"""Reconnection pauses grow exponentially to a cap, spread by full jitter."""

from __future__ import annotations

from stoa.gateway.snapshot.sync import BACKOFF_START_SECONDS, backoff_seconds


def test_backoff_doubles_up_to_the_cap_and_jitter_spreads_it() -> None:
    ceilings = [backoff_seconds(attempt, 30.0, rng=lambda: 1.0) for attempt in range(10)]
    assert ceilings[:4] == [BACKOFF_START_SECONDS * 2**n for n in range(4)]
    assert ceilings[-1] == 30.0
    assert backoff_seconds(5, 30.0, rng=lambda: 0.0) == 0.0
    assert backoff_seconds(1000, 30.0, rng=lambda: 0.5) == 15.0
