"""Password and client-secret hashing with argon2id (argon2-cffi, RFC 9106 parameters).

Hashes carry their own parameters and salt (`$argon2id$v=19$m=...,t=...,p=...$...`), so
changing the parameters later needs no migration: `needs_rehash` says when a stored hash
should be replaced after the next successful login.

Hashing and verifying are deliberately slow (tens of milliseconds) and CPU-bound: async
callers run them in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id; time_cost=3, memory_cost=64 MiB, parallelism=4

# Lower-case letters and digits without the look-alikes 0/o, 1/l/i: easy to read aloud
# and to type from a terminal. 31 symbols, about 4.95 bits each.
_READABLE = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS = 5
_GROUP_LENGTH = 5


def hash_password(password: str) -> str:
    """The argon2id hash of `password`, with a fresh random salt, for storing."""
    return _HASHER.hash(password)


@cache
def _decoy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`.

    Never raises: a missing (None) or malformed hash is False. A missing hash still costs
    one argon2 verification, so a login for an unknown user takes as long as a wrong
    password and does not reveal which accounts exist. The comparison inside argon2 is
    constant-time.
    """
    try:
        if password_hash is None:
            _HASHER.verify(_decoy_hash(), password)
            return False
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the stored hash was made with other parameters than today's (or is not an
    argon2 hash at all) and should be replaced by `hash_password` of the verified password."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def generate_password() -> str:
    """A random password that reads well: five groups of five characters joined by dashes,
    e.g. `k7mq2-xvh9p-4rtzw-ncd8e-u3jas` (29 characters, about 124 bits of entropy)."""
    groups = (
        "".join(secrets.choice(_READABLE) for _ in range(_GROUP_LENGTH)) for _ in range(_GROUPS)
    )
    return "-".join(groups)
