"""Legacy-generation MCP sessions as signed tokens, so any worker or replica serves any call.

A session id is `s1.<payload>.<mac>`: the payload (base64url of compact JSON) carries what
the session needs — negotiated protocol version, the caller's subject, the route it was
opened on (`""` for the aggregate `/mcp`, `"tenant/api"` for a per-API endpoint), expiry
and a random nonce — and the MAC is HMAC-SHA256 over it with a key shared by every
gateway process (see `McpSettings.session_secret`). Nothing is stored server-side, so there
are no sticky sessions and no session store.

Ending a session (HTTP DELETE) is recorded in this process only: the worker that received
the DELETE refuses the id at once, other workers and replicas keep accepting it until it
expires. That is the documented best effort; a client that DELETEs has stopped using the id
anyway, and the id stays bound to the same caller, so nobody else can use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Final

import msgspec

PREFIX: Final = "s1."
_MAC_BYTES: Final = 16
_MAX_ENDED: Final = 100_000
_MAX_VERIFIED: Final = 100_000


class SessionPayload(msgspec.Struct, frozen=True, array_like=True):
    version: str
    subject: str
    route: str
    expires_at: int
    nonce: str


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    version: str
    subject: str
    route: str
    expires_at: int
    nonce: str


_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(SessionPayload)


class SessionCodec:
    """Issues and checks session ids with one HMAC key.

    Args:
        key: the shared secret (at least 16 bytes); every process serving the same clients
            must use the same key.
        lifetime_seconds: how long an id stays valid after `initialize`.
    """

    def __init__(self, key: bytes, *, lifetime_seconds: int = 86_400) -> None:
        if len(key) < 16:
            raise ValueError("the session key must be at least 16 bytes")
        self._key = hashlib.sha256(b"stoa mcp session\x00" + key).digest()
        self._lifetime = lifetime_seconds
        self._ended: dict[str, int] = {}
        # Ids already verified: a hit skips base64, JSON and HMAC on the hot path.
        self._verified: dict[str, Session] = {}

    def issue(self, *, version: str, subject: str, route: str, now: float | None = None) -> str:
        moment = int(time.time() if now is None else now)
        payload = SessionPayload(
            version=version,
            subject=subject,
            route=route,
            expires_at=moment + self._lifetime,
            nonce=_b64(os.urandom(12)),
        )
        body = _b64(_encoder.encode(payload))
        return f"{PREFIX}{body}.{self._mac(body)}"

    def check(self, session_id: str, *, now: float | None = None) -> Session | None:
        """The session an id stands for, or None when it is forged, garbled, expired or ended."""
        moment = time.time() if now is None else now
        known = self._verified.get(session_id)
        if known is not None:
            if known.expires_at <= moment or known.nonce in self._ended:
                return None
            return known
        if not session_id.startswith(PREFIX) or not session_id.isascii():
            return None
        body, dot, mac = session_id[len(PREFIX) :].partition(".")
        if not dot or not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            payload = _decoder.decode(_unb64(body))
        except (msgspec.DecodeError, ValueError):
            return None
        if payload.expires_at <= moment or payload.nonce in self._ended:
            return None
        session = Session(
            id=session_id,
            version=payload.version,
            subject=payload.subject,
            route=payload.route,
            expires_at=payload.expires_at,
            nonce=payload.nonce,
        )
        if len(self._verified) >= _MAX_VERIFIED:
            self._verified.clear()
        self._verified[session_id] = session
        return session

    def end(self, session: Session, *, now: float | None = None) -> None:
        """Refuse this session from now on, in this process (see the module docstring)."""
        moment = time.time() if now is None else now
        if len(self._ended) >= _MAX_ENDED:
            self._ended = {n: exp for n, exp in self._ended.items() if exp > moment}
        self._ended[session.nonce] = session.expires_at
        self._verified.pop(session.id, None)

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return _b64(digest[:_MAC_BYTES])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
