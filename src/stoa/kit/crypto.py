"""Envelope encryption for secrets at rest (upstream credentials).

Each value gets its own random AES-256-GCM data key; the data key is encrypted under the
master key. The stored token is `v1.<wrapped data key>.<nonce+ciphertext>` (urlsafe base64),
so the master key can be replaced by a KMS or Vault transit backend later by changing only
how data keys are wrapped.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DecryptionError(Exception):
    """The stored value was not produced under this master key, or was altered."""


class SecretBox:
    """Encrypts and decrypts small secrets under a 32-byte master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._master = AESGCM(master_key)

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        """Encrypt `plaintext`; `context` (e.g. the owning record's id) is authenticated too,
        so a ciphertext copied onto another record does not decrypt."""
        data_key = AESGCM.generate_key(bit_length=256)
        key_nonce, value_nonce = os.urandom(12), os.urandom(12)
        aad = context.encode()
        wrapped = key_nonce + self._master.encrypt(key_nonce, data_key, aad)
        sealed = value_nonce + AESGCM(data_key).encrypt(value_nonce, plaintext.encode(), aad)
        return f"{_VERSION}.{_b64(wrapped)}.{_b64(sealed)}"

    def decrypt(self, token: str, *, context: str = "") -> str:
        try:
            version, wrapped_text, sealed_text = token.split(".")
            if version != _VERSION:
                raise DecryptionError(f"unknown secret format {version!r}")
            wrapped, sealed = _unb64(wrapped_text), _unb64(sealed_text)
            aad = context.encode()
            data_key = self._master.decrypt(wrapped[:12], wrapped[12:], aad)
            return AESGCM(data_key).decrypt(sealed[:12], sealed[12:], aad).decode()
        except (ValueError, InvalidTag) as exc:
            raise DecryptionError("secret cannot be decrypted with this master key") from exc
