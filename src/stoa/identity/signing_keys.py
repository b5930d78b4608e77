"""The platform's token signing keys, kept in the data dir (mode 0600).

The newest key signs; every key in the file is published so tokens signed before a
rotation stay valid until they expire. Readable only by whoever can read the data dir,
which is what makes `stoa admin token` a local-automation helper and nothing more.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from joserfc.jwk import ECKey, KeySet

from stoa.kit.ids import new_id
from stoa.kit.secret_file import private_dir

_FILE_NAME = "signing-keys.json"


def _path(data_dir: Path) -> Path:
    return data_dir / _FILE_NAME


def _new_key() -> ECKey:
    return ECKey.generate_key(
        "P-256",
        parameters={"kid": new_id("sig"), "alg": "ES256", "use": "sig"},
        private=True,
    )


def _write(path: Path, keys: KeySet) -> None:
    private_dir(path.parent)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys.as_dict(private=True), handle)
    os.replace(temporary, path)


def load_signing_keys(data_dir: Path) -> KeySet:
    """The private key set, newest key last, created with one key on first use."""
    path = _path(data_dir)
    if not path.exists():
        _write(path, KeySet([_new_key()]))
    return KeySet.import_key_set(json.loads(path.read_text()))


def public_key_set(data_dir: Path) -> KeySet:
    """What the JWKS endpoint publishes and what verifiers trust."""
    return KeySet.import_key_set(load_signing_keys(data_dir).as_dict(private=False))


def rotate_signing_key(data_dir: Path, keep: int = 2) -> str:
    """Add a new signing key, keeping the `keep - 1` previous ones published; returns its kid."""
    keys = load_signing_keys(data_dir)
    fresh = _new_key()
    _write(_path(data_dir), KeySet([*keys.keys[-(keep - 1) :], fresh]))
    return str(fresh.kid)


def current_signing_key(keys: KeySet) -> ECKey:
    key = keys.keys[-1]
    assert isinstance(key, ECKey)
    return key
