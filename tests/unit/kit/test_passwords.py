from __future__ import annotations

import re

from argon2 import PasswordHasher

from stoa.kit.passwords import generate_password, hash_password, needs_rehash, verify_password


def test_hash_is_salted_argon2id_and_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert stored != hash_password("correct horse battery staple")  # fresh salt each time
    assert verify_password(stored, "correct horse battery staple") is True
    assert verify_password(stored, "correct horse battery stapler") is False
    assert verify_password(stored, "") is False


def test_missing_or_malformed_hash_is_a_failed_verification_not_an_error() -> None:
    assert verify_password(None, "anything") is False
    assert verify_password("", "anything") is False
    assert verify_password("not-a-hash", "anything") is False
    assert verify_password("$argon2id$v=19$m=65536,t=3,p=4$broken", "anything") is False


def test_rehash_is_needed_for_old_parameters_or_foreign_hashes_only() -> None:
    assert needs_rehash(hash_password("pw")) is False
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    assert verify_password(weaker, "pw") is True
    assert needs_rehash(weaker) is True
    assert needs_rehash("$2b$12$somebcrypthashfromelsewhere") is True


def test_generated_passwords_are_long_readable_and_unique() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) >= 20
        assert re.fullmatch(r"[a-z2-9]{5}(-[a-z2-9]{5}){4}", password)
        assert not set(password) & set("01lio")
