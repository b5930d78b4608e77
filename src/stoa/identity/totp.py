"""Time-based one-time passwords (RFC 6238) for the optional second login factor.

Contract:

- `generate_secret()` returns a new shared secret: 160 random bits (the RFC 4226
  recommendation) as unpadded upper-case base32, the form authenticator apps accept when
  typed by hand. Store it encrypted (`stoa.kit.crypto.SecretBox`); it is as sensitive as a
  password.
- `provisioning_uri(secret, account=..., issuer=...)` is the `otpauth://totp/...` URI that
  authenticator apps import (SHA-1, 6 digits, 30 s: the parameters every app supports).
- `qr_code_svg(uri)` renders that URI as an inline SVG QR code for the enrolment page.
- `verify_code(secret, code, now=..., last_used_step=...)` accepts a code for the current
  30-second step or one step either side (clock drift), and returns the step it matched,
  or None. Replay protection is the caller's half of the contract: store the returned step
  with the user and pass it back as `last_used_step` next time; codes from that step or
  earlier are then refused, so a code seen over someone's shoulder cannot be used again.

Everything is pure: time comes in as `now` (seconds since the epoch), nothing is stored.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

import segno
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
WINDOW_STEPS = 1  # one step either side: up to 30 s of clock drift in each direction
SECRET_BYTES = 20


class InvalidSecret(ValueError):
    """The stored secret is not valid base32 of at least 128 bits."""


def generate_secret() -> str:
    """A fresh shared secret, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _totp(secret: str) -> TOTP:
    compact = secret.replace(" ", "").upper()
    padded = compact + "=" * (-len(compact) % 8)
    try:
        key = base64.b32decode(padded)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("the TOTP secret is not base32") from exc
    if len(key) < 16:
        raise InvalidSecret("the TOTP secret must hold at least 128 bits")
    # SHA-1 is what RFC 6238 authenticator apps implement; HMAC-SHA-1 is not weakened by
    # SHA-1 collisions.
    return TOTP(key, DIGITS, SHA1(), STEP_SECONDS)  # noqa: S303


def step_at(now: float) -> int:
    """The RFC 6238 time step (counter) that contains `now`."""
    return int(now) // STEP_SECONDS


def code_at(secret: str, now: float) -> str:
    """The code an authenticator shows at `now` (for tests and diagnostics)."""
    return _totp(secret).generate(int(now)).decode("ascii")


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The `otpauth://totp/<issuer>:<account>?secret=...&issuer=...` URI for enrolment."""
    return _totp(secret).get_provisioning_uri(account, issuer)


def qr_code_svg(uri: str, *, title: str = "QR code for your authenticator app") -> str:
    """An inline `<svg>` QR code of `uri`; `title` is its accessible name."""
    code = segno.make(uri, error="m", micro=False)
    svg: str = code.svg_inline(scale=4, border=4, title=title, dark="#000", light="#fff")
    return svg


def verify_code(
    secret: str, code: str, *, now: float, last_used_step: int | None = None
) -> int | None:
    """The time step `code` belongs to, or None if it is wrong, too old or replayed.

    `code` may contain spaces (apps show `123 456`). Steps at or before `last_used_step`
    are never accepted. Raises `InvalidSecret` only for a corrupt stored secret.
    """
    totp = _totp(secret)
    candidate = code.replace(" ", "").strip()
    if len(candidate) != DIGITS or not candidate.isascii() or not candidate.isdigit():
        return None
    current = step_at(now)
    matched: int | None = None
    # Check every step in the window without stopping early, so the time taken does not
    # say which step matched.
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        expected = totp.generate(step * STEP_SECONDS)
        fresh = last_used_step is None or step > last_used_step
        if hmac.compare_digest(expected, candidate.encode("ascii")) and fresh and matched is None:
            matched = step
    return matched
