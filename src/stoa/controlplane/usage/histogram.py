"""Fixed-bucket latency histograms: mergeable by addition, percentiles read back.

Every rollup row holds counts for the same buckets, so the histogram of any set of rows
is their sum, and its percentiles are as good as the buckets: exact to the bucket, and
interpolated linearly inside it.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

# Upper bounds (inclusive), in milliseconds; the last bucket is everything slower.
BOUNDS_MS: tuple[float, ...] = (
    1,
    2,
    5,
    10,
    15,
    25,
    50,
    75,
    100,
    150,
    250,
    500,
    750,
    1_000,
    1_500,
    2_500,
    5_000,
    10_000,
    30_000,
    math.inf,
)
BUCKETS = len(BOUNDS_MS)
COLUMNS: tuple[str, ...] = tuple(f"h{i:02d}" for i in range(BUCKETS))


def bucket_of(latency_ms: float) -> int:
    """Index of the bucket that counts `latency_ms`."""
    return bisect_left(BOUNDS_MS, latency_ms)


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """The latency below which `fraction` (0 < fraction <= 1) of the calls fall, or None
    when `counts` is empty. Inside a bucket the calls are taken as evenly spread; the
    last, unbounded bucket answers its lower bound."""
    total = sum(counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low = 0.0 if index == 0 else BOUNDS_MS[index - 1]
            high = BOUNDS_MS[index]
            if math.isinf(high):
                return low
            return low + (high - low) * (rank - seen) / count
        seen += count
    return BOUNDS_MS[-2]  # not reached: the loop ends at the rank


def merged(rows: Sequence[Sequence[int]]) -> list[int]:
    """The histogram of several histograms."""
    total = [0] * BUCKETS
    for row in rows:
        for index, count in enumerate(row):
            total[index] += count
    return total
