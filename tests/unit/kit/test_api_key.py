from __future__ import annotations

from stoa.kit.api_key import KEY_PREFIX, generate_key, key_digest, looks_like_key


def test_generated_key_has_prefix_visible_part_and_matching_digest() -> None:
    hash_secret = b"k" * 32
    key = generate_key(hash_secret)
    assert key.secret.startswith(KEY_PREFIX)
    assert len(key.secret) > len(KEY_PREFIX) + 40
    assert key.secret.startswith(key.prefix)
    assert key.prefix != key.secret
    assert key.digest == key_digest(hash_secret, key.secret)
    assert key.secret not in key.digest
    assert looks_like_key(key.secret)


def test_digest_depends_on_the_platform_hash_secret() -> None:
    key = generate_key(b"a" * 32)
    assert key_digest(b"b" * 32, key.secret) != key.digest


def test_keys_are_unique() -> None:
    assert len({generate_key(b"x" * 32).secret for _ in range(200)}) == 200
