"""The disk copy: what was written is read back; anything damaged is refused."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest

from stoa.contract.snapshot import (
    PlanEntry,
    content_hash,
    encode_snapshot,
)
from stoa.gateway.snapshot.disk_copy import CopyUnusable, read_copy, write_copy
from support.config_sync import snapshot_of


def test_copy_reads_back_what_was_written_and_is_private(tmp_path: Path) -> None:
    snapshot = snapshot_of()
    path = tmp_path / "data" / "synced-snapshot"
    write_copy(path, encode_snapshot(snapshot), content_hash(snapshot))
    copy = read_copy(path)
    assert copy.snapshot == snapshot
    assert copy.hash == content_hash(snapshot)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["synced-snapshot"]


def test_replacing_a_copy_leaves_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "synced-snapshot"
    first = snapshot_of()
    second = msgspec.structs.replace(first, plans=[PlanEntry(id="pln_1", tenant_id="t", name="g")])
    write_copy(path, encode_snapshot(first), content_hash(first))
    write_copy(path, encode_snapshot(second), content_hash(second))
    assert read_copy(path).snapshot == second


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[:-5], "checksum"),
        (lambda raw: raw.replace(b'"apis":[]', b'"apis":{}'), "checksum"),
        (lambda raw: b"garbage" + raw, "bad header"),
        (lambda raw: b"", "bad header"),
    ],
)
def test_damaged_copy_is_refused(tmp_path: Path, damage: object, message: str) -> None:
    snapshot = snapshot_of()
    path = tmp_path / "synced-snapshot"
    write_copy(path, encode_snapshot(snapshot), content_hash(snapshot))
    assert callable(damage)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CopyUnusable, match=message):
        read_copy(path)


def test_copy_whose_hash_does_not_match_its_snapshot_is_refused(tmp_path: Path) -> None:
    snapshot = snapshot_of()
    path = tmp_path / "synced-snapshot"
    write_copy(path, encode_snapshot(snapshot), "0" * 64)
    with pytest.raises(CopyUnusable, match="does not match its hash"):
        read_copy(path)


def test_missing_copy_says_so(tmp_path: Path) -> None:
    with pytest.raises(CopyUnusable, match="no snapshot copy"):
        read_copy(tmp_path / "synced-snapshot")
