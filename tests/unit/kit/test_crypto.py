from __future__ import annotations

import os

import pytest

from stoa.kit.crypto import DecryptionError, SecretBox


def test_secret_round_trips_and_ciphertext_hides_it() -> None:
    box = SecretBox(os.urandom(32))
    token = box.encrypt("s3cr3t-upstream-token", context="api_1")
    assert "s3cr3t" not in token
    assert box.decrypt(token, context="api_1") == "s3cr3t-upstream-token"


def test_same_secret_encrypts_differently_each_time() -> None:
    box = SecretBox(os.urandom(32))
    assert box.encrypt("x") != box.encrypt("x")


def test_ciphertext_moved_to_another_record_does_not_decrypt() -> None:
    box = SecretBox(os.urandom(32))
    token = box.encrypt("value", context="api_1")
    with pytest.raises(DecryptionError):
        box.decrypt(token, context="api_2")


def test_other_master_key_or_tampering_is_refused() -> None:
    token = SecretBox(os.urandom(32)).encrypt("value")
    with pytest.raises(DecryptionError):
        SecretBox(os.urandom(32)).decrypt(token)
    box = SecretBox(os.urandom(32))
    good = box.encrypt("value")
    version, wrapped, sealed = good.split(".")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DecryptionError):
        box.decrypt(f"{version}.{wrapped}.{flipped}")
    with pytest.raises(DecryptionError):
        box.decrypt("garbage")


def test_master_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox(b"short")
