"""The active-sessions gauge falls when a session is deleted and when it expires."""

from __future__ import annotations

from stoa.gateway.mcp.live_sessions import LiveSessions


def test_sessions_count_until_deleted_or_expired() -> None:
    live = LiveSessions()
    live.opened("a", expires_at=1_000)
    live.opened("b", expires_at=2_000)
    live.opened("c", expires_at=3_000)
    assert live.count(now=500) == 3
    live.ended("b")
    assert live.count(now=500) == 2
    assert live.count(now=1_000) == 1  # "a" expired
    assert live.count(now=3_000) == 0
    live.ended("unknown")  # ended through another worker: nothing to forget here
    assert live.count(now=3_000) == 0


def test_many_ended_sessions_leave_no_garbage_behind() -> None:
    live = LiveSessions()
    for index in range(5_000):
        live.opened(f"s{index}", expires_at=10_000)
        live.ended(f"s{index}")
    live.opened("kept", expires_at=10_000)
    assert live.count(now=1) == 1
    assert len(live._by_time) < 1_100
