from __future__ import annotations

import time

from stoa.kit.ids import new_id


def test_ids_carry_their_prefix_and_sort_by_creation_time() -> None:
    first = new_id("api")
    time.sleep(0.002)
    second = new_id("api")
    assert first.startswith("api_")
    assert len(first) == 30
    assert first < second


def test_ids_are_unique_within_one_millisecond() -> None:
    assert len({new_id("x") for _ in range(1000)}) == 1000
