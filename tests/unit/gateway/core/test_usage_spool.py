"""The usage spool: order, durability across reopening, the bound, torn records, claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from stoa.gateway.usage import spool as spool_module
from stoa.gateway.usage.spool import Spool, SpoolLocked


def drain(spool: Spool) -> list[bytes]:
    taken = []
    while (payload := spool.peek()) is not None:
        taken.append(payload)
        spool.pop()
    return taken


def test_batches_come_out_in_the_order_they_went_in(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path / "w", 1 << 20)
    for n in range(5):
        assert spool.append(f"batch {n}".encode())
    assert spool.peek() == b"batch 0"
    assert spool.peek() == b"batch 0"  # peeking does not remove
    spool.pop()
    spool.append(b"batch 5")
    assert drain(spool) == [f"batch {n}".encode() for n in range(1, 6)]
    assert spool.empty
    assert list((tmp_path / "w").glob("*.seg")) == []
    spool.close()


def test_queued_batches_survive_reopening_and_many_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "SEGMENT_BYTES", 64)
    spool = Spool.claim(tmp_path / "w", 1 << 20)
    for n in range(20):
        spool.append(f"batch {n:02d} ".encode() * 3)
    spool.pop()  # batch 00 delivered
    assert len(list((tmp_path / "w").glob("*.seg"))) > 3
    spool.close()

    reopened = Spool.claim(tmp_path / "w", 1 << 20)
    reopened.append(b"after restart")
    taken = drain(reopened)
    # A restart may send again what was delivered from a segment not yet removed (the
    # control plane drops it by its key); it never loses or reorders anything.
    assert taken[-1] == b"after restart"
    expected = [f"batch {n:02d} ".encode() * 3 for n in range(1, 20)]
    assert taken[-20:-1] == expected
    assert list((tmp_path / "w").glob("*.seg")) == []
    reopened.close()


def test_a_full_spool_refuses_new_batches_and_keeps_the_queued_ones(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path / "w", 100)
    assert spool.append(b"x" * 40)
    assert spool.append(b"y" * 40)
    assert not spool.append(b"z" * 40)
    assert spool.size_bytes <= 100
    assert drain(spool) == [b"x" * 40, b"y" * 40]
    assert spool.append(b"z" * 40)  # room again once delivered
    spool.close()


def test_a_torn_record_is_skipped_and_counted(tmp_path: Path) -> None:
    spool = Spool.claim(tmp_path / "w", 1 << 20)
    spool.append(b"whole")
    spool.append(b"torn by a crash")
    spool.close()
    segment = next((tmp_path / "w").glob("*.seg"))
    segment.write_bytes(segment.read_bytes()[:-3])

    reopened = Spool.claim(tmp_path / "w", 1 << 20)
    reopened.append(b"later")
    assert drain(reopened) == [b"whole", b"later"]
    assert reopened.corrupt_records == 1
    reopened.close()


def test_each_live_claimant_gets_its_own_directory(tmp_path: Path) -> None:
    first = Spool.claim_free(tmp_path, 1 << 20)
    second = Spool.claim_free(tmp_path, 1 << 20)
    assert first.directory != second.directory
    with pytest.raises(SpoolLocked):
        Spool.claim(first.directory, 1 << 20)
    first.close()
    third = Spool.claim_free(tmp_path, 1 << 20)
    assert third.directory == first.directory  # a released directory is taken over
    second.close()
    third.close()
