"""API key secrets: `stoa_sk_<secret>`, stored as an HMAC-SHA256 digest with a visible prefix.

The control plane stores `digest(secret)`; the gateway computes the same digest of what a
caller presents and looks it up. The secret is shown to its owner once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "stoa_sk_"
_VISIBLE_CHARS = 8


@dataclass(frozen=True, slots=True)
class NewKey:
    secret: str  # the whole `stoa_sk_...` string, returned once
    prefix: str  # what lists show, e.g. `stoa_sk_AbC12xYz`
    digest: str  # hex HMAC-SHA256, what is stored


def key_digest(hash_secret: bytes, presented: str) -> str:
    """The stored form of a presented key."""
    return hmac.new(hash_secret, presented.encode(), hashlib.sha256).hexdigest()


def new_secret(prefix: str, hash_secret: bytes) -> NewKey:
    """A random secret starting with `prefix`, its visible prefix and its digest."""
    secret = prefix + secrets.token_urlsafe(32)
    return NewKey(
        secret=secret,
        prefix=secret[: len(prefix) + _VISIBLE_CHARS],
        digest=key_digest(hash_secret, secret),
    )


def generate_key(hash_secret: bytes) -> NewKey:
    return new_secret(KEY_PREFIX, hash_secret)


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX)
