"""Login throttling: free tries, then growing waits, per account and per address."""

from __future__ import annotations

import pytest

from stoa.identity.throttle import (
    Decision,
    LoginThrottle,
    MemoryThrottleStore,
    ThrottlePolicy,
)

ACCOUNT = ThrottlePolicy(
    free_failures=3, base_lock_seconds=10, max_lock_seconds=40, forget_after_seconds=100
)
IP = ThrottlePolicy(
    free_failures=5, base_lock_seconds=5, max_lock_seconds=40, forget_after_seconds=100
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock) -> LoginThrottle:
    return LoginThrottle(MemoryThrottleStore(), account_policy=ACCOUNT, ip_policy=IP, clock=clock)


@pytest.mark.anyio
async def test_free_failures_then_a_lock_that_doubles_up_to_the_cap() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    for _ in range(2):
        assert await throttle.record_failure(account="a@x", ip=None) == Decision(True)
    assert await throttle.record_failure(account="a@x", ip=None) == Decision(True)
    # The fourth failure is the first over the allowance: locked for 10 s.
    assert await throttle.record_failure(account="a@x", ip=None) == Decision(False, 10)
    assert await throttle.check(account="a@x", ip=None) == Decision(False, 10)
    clock.now += 4.5
    assert await throttle.check(account="a@x", ip=None) == Decision(False, 6)
    clock.now += 5.5
    assert await throttle.check(account="a@x", ip=None) == Decision(True)
    assert await throttle.record_failure(account="a@x", ip=None) == Decision(False, 20)
    clock.now += 20
    assert await throttle.record_failure(account="a@x", ip=None) == Decision(False, 40)
    clock.now += 40
    assert await throttle.record_failure(account="a@x", ip=None) == Decision(False, 40)


@pytest.mark.anyio
async def test_accounts_are_throttled_independently_and_case_blind() -> None:
    throttle = _throttle(Clock())
    for _ in range(4):
        await throttle.record_failure(account="Victim@X ", ip=None)
    assert not (await throttle.check(account="victim@x", ip=None)).allowed
    assert (await throttle.check(account="other@x", ip=None)).allowed


@pytest.mark.anyio
async def test_success_clears_the_account_but_not_the_address() -> None:
    throttle = _throttle(Clock())
    for n in range(6):
        await throttle.record_failure(account=f"user{n}@x", ip="203.0.113.9")
    await throttle.record_failure(account="mine@x", ip="203.0.113.9")
    await throttle.record_success(account="mine@x", ip="203.0.113.9")
    decision = await throttle.check(account="mine@x", ip="203.0.113.9")
    assert not decision.allowed  # the address guessed at seven accounts
    assert (await throttle.check(account="mine@x", ip="198.51.100.1")).allowed


@pytest.mark.anyio
async def test_spraying_many_accounts_from_one_address_is_slowed() -> None:
    throttle = _throttle(Clock())
    decisions = [
        await throttle.record_failure(account=f"user{n}@x", ip="203.0.113.9") for n in range(6)
    ]
    assert all(d.allowed for d in decisions[:5])
    assert decisions[5] == Decision(False, 5)
    assert await throttle.check(account="fresh@x", ip="203.0.113.9") == Decision(False, 5)


@pytest.mark.anyio
async def test_failures_are_forgotten_after_a_quiet_period() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    for _ in range(4):
        await throttle.record_failure(account="a@x", ip=None)
    clock.now += 101
    assert (await throttle.check(account="a@x", ip=None)).allowed
    # Counting starts over: three free failures again.
    for _ in range(3):
        assert (await throttle.record_failure(account="a@x", ip=None)).allowed


@pytest.mark.anyio
async def test_memory_store_stays_bounded_under_a_flood_of_keys() -> None:
    store = MemoryThrottleStore(max_keys=50)
    throttle = LoginThrottle(store, account_policy=ACCOUNT, ip_policy=IP, clock=Clock())
    for n in range(500):
        await throttle.record_failure(account=f"user{n}@x", ip=None)
    assert len(store._records) <= 51


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": -1},
        {"base_lock_seconds": 0},
        {"max_lock_seconds": 1},
        {"forget_after_seconds": 10},
    ],
)
def test_inconsistent_policies_are_refused(kwargs: dict[str, float]) -> None:
    values: dict[str, float] = {
        "free_failures": 3,
        "base_lock_seconds": 5,
        "max_lock_seconds": 60,
        "forget_after_seconds": 120,
    }
    values.update(kwargs)
    with pytest.raises(ValueError, match="must"):
        ThrottlePolicy(
            free_failures=int(values["free_failures"]),
            base_lock_seconds=values["base_lock_seconds"],
            max_lock_seconds=values["max_lock_seconds"],
            forget_after_seconds=values["forget_after_seconds"],
        )


def test_lock_length_is_finite_for_huge_failure_counts() -> None:
    assert ACCOUNT.lock_seconds(10_000) == 40
