"""Sortable, prefixed identifiers: `api_01JD3M...`.

The body is a ULID (48-bit millisecond time + 80 random bits, Crockford base32), so ids
sort by creation time, which keyset pagination relies on.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A new id such as `ten_01JD3M4X6Q0000000000000000`."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(chars))}"
