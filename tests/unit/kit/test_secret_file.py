"""Secrets and the directory that holds them are private to the owner."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stoa.kit.secret_file import private_dir, read_or_create


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_secret_and_its_new_directory_are_owner_only(tmp_path: Path) -> None:
    secret = tmp_path / "data" / "master.key"
    value = read_or_create(secret)
    assert len(value) == 32
    assert _mode(secret) == 0o600
    assert _mode(secret.parent) == 0o700
    assert read_or_create(secret) == value


def test_an_existing_directory_keeps_the_mode_its_operator_chose(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    assert private_dir(shared) == shared
    assert _mode(shared) == 0o750


def test_a_truncated_secret_is_refused_rather_than_replaced(tmp_path: Path) -> None:
    secret = tmp_path / "master.key"
    secret.write_bytes(b"short")
    with pytest.raises(ValueError, match="holds 5 bytes, not 32"):
        read_or_create(secret)
    assert secret.read_bytes() == b"short"
