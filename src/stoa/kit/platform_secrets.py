"""The platform's own secrets: the master key for data at rest and the API-key hash secret."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from stoa.kit.secret_file import read_or_create
from stoa.kit.settings import Settings


@dataclass(frozen=True, slots=True)
class PlatformSecrets:
    master_key: bytes
    key_hash_secret: bytes


def load_platform_secrets(settings: Settings) -> PlatformSecrets:
    """Read the secrets from settings or the data dir, creating them on first use."""
    if settings.master_key is not None:
        try:
            master = base64.b64decode(settings.master_key.get_secret_value(), validate=True)
        except binascii.Error as exc:
            raise ValueError("STOA_MASTER_KEY must be base64") from exc
        if len(master) != 32:
            raise ValueError("STOA_MASTER_KEY must decode to 32 bytes")
    else:
        master = read_or_create(settings.data_dir / "master.key")
    return PlatformSecrets(
        master_key=master,
        key_hash_secret=read_or_create(settings.data_dir / "api-key-hash.key"),
    )
