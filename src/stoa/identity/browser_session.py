"""The browser side of login: a signed login-session cookie, CSRF tokens, and the signed
hand-over between the password step and the TOTP step.

Nothing here is stored on the server: values are JSON payloads with an expiry, signed
with HMAC-SHA256 under a key derived from the platform master key, each for one
`purpose` so a value signed for one use is refused for another.

CSRF uses the double-submit pattern: a random `stoa_csrf` cookie, and in every form a
token that is the HMAC of that cookie; a POST whose token does not match its cookie is
refused. The cookies are HttpOnly and SameSite=Lax (Secure when the issuer is https).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

LOGIN_COOKIE = "stoa_login"
CSRF_COOKIE = "stoa_csrf"
COOKIE_PATH = "/oauth"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class LoginSession:
    user_id: str
    auth_time: int


class BrowserSigner:
    """Signs and checks the values above."""

    def __init__(self, master_key: bytes) -> None:
        self._key = hmac.new(
            master_key, b"stoa identity browser values v1", hashlib.sha256
        ).digest()

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}.{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, Any], *, lifetime: int) -> str:
        body = _b64(json.dumps({**payload, "exp": int(time.time()) + lifetime}).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The payload, or None if `value` is missing, altered, for another purpose or expired."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or int(payload.get("exp", 0)) < time.time():
            return None
        return payload

    def login_cookie(self, user_id: str, *, lifetime: int) -> str:
        return self.sign(
            "login", {"sub": user_id, "auth_time": int(time.time())}, lifetime=lifetime
        )

    def login_session(self, cookie: str | None) -> LoginSession | None:
        payload = self.verify("login", cookie)
        if payload is None or not isinstance(payload.get("sub"), str):
            return None
        return LoginSession(payload["sub"], int(payload.get("auth_time", 0)))

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(self.csrf_token(nonce), token)


def new_csrf_nonce() -> str:
    return secrets.token_urlsafe(24)
