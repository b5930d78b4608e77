"""API keys: `Authorization: Bearer stoa_sk_...` or `X-API-Key: stoa_sk_...`.

The presented key is HMAC-digested with the platform's key hash secret and looked up by
digest: revoked keys are simply absent from the snapshot, and a rotated key keeps working
until its `expires_at` (the grace period) like any key with an expiry.
"""

from __future__ import annotations

import hmac
from typing import Final, cast

from stoa.gateway.auth.caller import Caller
from stoa.gateway.snapshot.compiled import CompiledSnapshot
from stoa.kit.api_key import KEY_PREFIX

_BEARER_KEY: Final = "Bearer " + KEY_PREFIX
_CACHE_SIZE: Final = 10_000


class KeyRejected(Exception):
    """The key is not valid now; the message says why, without echoing the key."""


def presented_key(headers: dict[str, str]) -> str | None:
    """The API key the request carries, if it carries one (not a JWT)."""
    key = headers.get("x-api-key")
    if key is not None:
        return key.strip()
    authorization = headers.get("authorization")
    if authorization is not None and authorization[:15].lower() == _BEARER_KEY.lower():
        return authorization[7:].strip()
    return None


def caller_for_key(snapshot: CompiledSnapshot, presented: str, now: float) -> Caller:
    """The caller a key stands for, or `KeyRejected`."""
    secret = snapshot.key_hash_secret
    if secret is None:
        raise KeyRejected(
            "this gateway's snapshot carries no key secret; API keys cannot be checked"
        )
    cache = snapshot.digest_cache
    known = cache.get(presented)
    if known is not None:
        entry, caller = known[0], cast(Caller, known[1])
    else:
        if not presented.startswith(KEY_PREFIX):
            raise KeyRejected(f"an API key starts with {KEY_PREFIX}")
        digest = hmac.digest(secret, presented.encode(), "sha256").hex()
        found = snapshot.key_by_digest.get(digest)
        # The lookup is by digest, so a near miss reveals nothing about the secret; the
        # constant-time compare keeps it that way should the table ever be searched.
        if found is None or not hmac.compare_digest(found.digest, digest):
            raise KeyRejected("the API key is not valid (unknown or revoked)")
        entry = found
        grants = snapshot.grants_by_application.get(entry.application_id, {})
        caller = Caller(subject=entry.id, grants=grants, scopes=None)
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[presented] = (entry, caller)
    if entry.expires_at is not None and now >= entry.expires_at:
        raise KeyRejected("the API key has expired; use its replacement")
    return caller
