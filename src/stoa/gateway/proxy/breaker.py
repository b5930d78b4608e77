"""A circuit breaker per upstream origin: stop sending to a backend that keeps failing.

Closed: calls pass. After `threshold` consecutive transport failures (connect errors,
resets, timeouts) it opens for `cooldown` seconds and calls fail fast with 503. Then one
trial call is let through (half-open): success closes it, failure opens it again.
"""

from __future__ import annotations

import time


class CircuitBreaker:
    __slots__ = ("_failures", "_open_until", "_trial", "cooldown", "threshold")

    def __init__(self, threshold: int = 5, cooldown: float = 10.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._failures = 0
        self._open_until = 0.0
        self._trial = False

    def allows(self) -> bool:
        if self._failures < self.threshold:
            return True
        if time.monotonic() < self._open_until or self._trial:
            return False
        self._trial = True  # half-open: this call is the trial
        return True

    def retry_after(self) -> float:
        return max(0.0, self._open_until - time.monotonic())

    def succeeded(self) -> None:
        self._failures = 0
        self._trial = False

    def failed(self) -> None:
        self._failures += 1
        self._trial = False
        if self._failures >= self.threshold:
            self._open_until = time.monotonic() + self.cooldown


class Breakers:
    """One breaker per origin, created on first use."""

    def __init__(self, threshold: int = 5, cooldown: float = 10.0) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._by_origin: dict[str, CircuitBreaker] = {}

    def for_origin(self, origin: str) -> CircuitBreaker:
        breaker = self._by_origin.get(origin)
        if breaker is None:
            breaker = self._by_origin[origin] = CircuitBreaker(self._threshold, self._cooldown)
        return breaker
