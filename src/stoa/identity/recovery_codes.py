"""Single-use recovery codes: the way back in when the TOTP device is lost.

Contract:

- `generate_recovery_codes(hash_secret, count=10)` returns the codes to show the user once
  (`xxxxx-xxxxx`, readable alphabet, about 50 bits each) and their digests, which are all
  that is stored. Generating a new set replaces the old one entirely.
- Digests are HMAC-SHA256 under the platform's hash secret, not argon2: the codes are
  random with ample entropy, so a slow hash adds nothing, and a keyed digest lets a
  presented code be found with one computation instead of one argon2 run per stored code.
  A stolen database alone does not let anyone test guesses offline.
- `consume_recovery_code(hash_secret, presented, stored)` returns the digests that remain
  after using `presented`, or None when it matches none of them. The caller writes the
  remaining list back in the same transaction as the login, guarded against a concurrent
  use of the same code (row lock, or an UPDATE conditioned on the old value), which makes
  each code single-use.

Presented codes are normalised first: case, spaces and dashes do not matter.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

# Lower-case letters and digits without the look-alikes 0/o, 1/l/i.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUP_LENGTH = 5
_GROUPS = 2
DEFAULT_COUNT = 10
_DOMAIN = b"stoa-recovery-code\x00"  # keeps these digests apart from API-key digests


@dataclass(frozen=True, slots=True)
class IssuedRecoveryCodes:
    codes: tuple[str, ...]  # shown to the user once, never stored
    digests: tuple[str, ...]  # stored, same order as `codes`


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch not in " -\t")


def recovery_code_digest(hash_secret: bytes, code: str) -> str:
    """The stored form of `code` (hex HMAC-SHA256 of its normalised text)."""
    return hmac.new(hash_secret, _DOMAIN + _normalise(code).encode(), hashlib.sha256).hexdigest()


def generate_recovery_codes(hash_secret: bytes, count: int = DEFAULT_COUNT) -> IssuedRecoveryCodes:
    """`count` new distinct codes and their digests. Raises ValueError if count < 1."""
    if count < 1:
        raise ValueError("at least one recovery code is needed")
    codes: list[str] = []
    while len(codes) < count:
        groups = (
            "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LENGTH)) for _ in range(_GROUPS)
        )
        code = "-".join(groups)
        if code not in codes:
            codes.append(code)
    return IssuedRecoveryCodes(
        codes=tuple(codes),
        digests=tuple(recovery_code_digest(hash_secret, code) for code in codes),
    )


def consume_recovery_code(
    hash_secret: bytes, presented: str, stored: Sequence[str]
) -> list[str] | None:
    """The digests left after using `presented`, or None if it is not one of `stored`."""
    normalised = _normalise(presented)
    if len(normalised) != _GROUP_LENGTH * _GROUPS:
        return None
    digest = recovery_code_digest(hash_secret, normalised)
    remaining: list[str] = []
    found = False
    for candidate in stored:
        # Constant-time comparison, and every stored digest is looked at.
        if hmac.compare_digest(candidate, digest) and not found:
            found = True
        else:
            remaining.append(candidate)
    return remaining if found else None
