"""Gateway tokens: `stoa_gw_<secret>`, what a gateway presents to the control plane.

Stored like API keys (`stoa.kit.api_key`): an HMAC-SHA256 digest and a visible prefix;
the secret is shown once. The HMAC key is derived from the key hash secret with a label
of its own, because gateways receive the key hash secret itself in their snapshot (to
check API keys) and must not be able to compute gateway-token digests with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "stoa_gw_"
_VISIBLE_CHARS = 8
_LABEL = b"stoa gateway token digest"


@dataclass(frozen=True, slots=True)
class NewGatewayToken:
    secret: str  # the whole `stoa_gw_...` string, returned once
    prefix: str  # what lists show, e.g. `stoa_gw_AbC12xYz`
    digest: str  # hex HMAC-SHA256, what is stored


def _digest_key(hash_secret: bytes) -> bytes:
    return hmac.new(hash_secret, _LABEL, hashlib.sha256).digest()


def gateway_token_digest(hash_secret: bytes, presented: str) -> str:
    """The stored form of a presented gateway token."""
    return hmac.new(_digest_key(hash_secret), presented.encode(), hashlib.sha256).hexdigest()


def generate_gateway_token(hash_secret: bytes) -> NewGatewayToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewGatewayToken(
        secret=secret,
        prefix=secret[: len(TOKEN_PREFIX) + _VISIBLE_CHARS],
        digest=gateway_token_digest(hash_secret, secret),
    )


def looks_like_gateway_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)
