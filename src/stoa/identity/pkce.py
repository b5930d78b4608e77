"""PKCE (RFC 7636), S256 only, as OAuth 2.1 requires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
# The base64url of a SHA-256 digest: exactly 43 characters, no padding.
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def challenge_problem(challenge: str | None, method: str | None) -> str | None:
    """Why an authorization request's PKCE parameters are refused, or None if they are fine."""
    if not challenge:
        return "code_challenge is required (PKCE with S256)"
    if method != "S256":
        return "code_challenge_method must be S256; plain and missing methods are not accepted"
    if not _CHALLENGE.match(challenge):
        return "code_challenge must be the base64url SHA-256 of the verifier (43 characters)"
    return None


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def verifier_matches(verifier: str, challenge: str) -> bool:
    """Whether `verifier` is well-formed and hashes to `challenge` (constant-time)."""
    if not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)
