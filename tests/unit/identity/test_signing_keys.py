from __future__ import annotations

import stat
from pathlib import Path

from joserfc import jwt

from stoa.identity.signing_keys import load_signing_keys, public_key_set, rotate_signing_key
from stoa.identity.tokens import mint_access_token


def test_keys_are_created_once_readable_by_owner_only(tmp_path: Path) -> None:
    first = load_signing_keys(tmp_path)
    assert load_signing_keys(tmp_path).as_dict() == first.as_dict()
    mode = stat.S_IMODE((tmp_path / "signing-keys.json").stat().st_mode)
    assert mode == 0o600


def test_published_key_set_has_no_private_parts(tmp_path: Path) -> None:
    for key in public_key_set(tmp_path).as_dict()["keys"]:
        assert "d" not in key


def test_tokens_signed_before_rotation_still_verify(tmp_path: Path) -> None:
    old_token = mint_access_token(
        tmp_path, issuer="i", audience="a", subject="usr_1", roles=[], tenant=None
    )
    new_kid = rotate_signing_key(tmp_path)
    keys = public_key_set(tmp_path)
    assert jwt.decode(old_token, keys).claims["sub"] == "usr_1"
    new_token = mint_access_token(
        tmp_path, issuer="i", audience="a", subject="usr_2", roles=[], tenant=None
    )
    assert jwt.decode(new_token, keys).header["kid"] == new_kid
