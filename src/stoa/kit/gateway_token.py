"""Gateway tokens: `stoa_gw_<secret>`, what a gateway presents to the control plane.

Stored like API keys (`stoa.kit.api_key`): an HMAC-SHA256 digest and a visible prefix;
the secret is shown once. The HMAC key is derived from the key hash secret with a label
of its own, because gateways receive the key hash secret itself in their snapshot (to
check API keys) and must not be able to compute gateway-token digests with it.
"""

from __future__ import annotations

import hashlib
import hmac

from stoa.kit.api_key import NewKey, key_digest, new_secret

TOKEN_PREFIX = "stoa_gw_"
_LABEL = b"stoa gateway token digest"


def _digest_key(hash_secret: bytes) -> bytes:
    return hmac.new(hash_secret, _LABEL, hashlib.sha256).digest()


def gateway_token_digest(hash_secret: bytes, presented: str) -> str:
    """The stored form of a presented gateway token."""
    return key_digest(_digest_key(hash_secret), presented)


def generate_gateway_token(hash_secret: bytes) -> NewKey:
    """A new token: the secret (returned once), its visible prefix and its digest."""
    return new_secret(TOKEN_PREFIX, _digest_key(hash_secret))


def looks_like_gateway_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)
