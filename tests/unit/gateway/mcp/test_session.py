"""Signed session ids: any process with the key accepts them, nobody can forge or stretch them."""

from __future__ import annotations

import pytest

from stoa.gateway.mcp.session import SessionCodec

KEY = b"k" * 32


def test_an_issued_id_is_accepted_by_another_codec_with_the_same_key() -> None:
    session_id = SessionCodec(KEY).issue(version="2025-11-25", subject="key-1", route="")
    session = SessionCodec(KEY).check(session_id)
    assert session is not None
    assert (session.version, session.subject, session.route) == ("2025-11-25", "key-1", "")
    assert session_id.isascii()
    assert " " not in session_id


def test_an_id_signed_with_another_key_is_refused() -> None:
    session_id = SessionCodec(b"x" * 32).issue(version="2025-11-25", subject="a", route="")
    assert SessionCodec(KEY).check(session_id) is None


def test_a_tampered_payload_is_refused() -> None:
    codec = SessionCodec(KEY)
    session_id = codec.issue(version="2025-11-25", subject="alice", route="")
    prefix, payload, mac = session_id.split(".")
    forged_payload = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    assert codec.check(f"{prefix}.{forged_payload}.{mac}") is None


@pytest.mark.parametrize("garbage", ["", "s1.", "s1.abc", "s1..", "nope", "s1.é.x"])
def test_garbage_is_refused_without_an_exception(garbage: str) -> None:
    assert SessionCodec(KEY).check(garbage) is None


def test_an_expired_id_is_refused() -> None:
    codec = SessionCodec(KEY, lifetime_seconds=60)
    session_id = codec.issue(version="2025-06-18", subject="a", route="", now=1000)
    assert codec.check(session_id, now=1059) is not None
    assert codec.check(session_id, now=1061) is None


def test_an_ended_session_is_refused_by_the_process_that_ended_it() -> None:
    codec = SessionCodec(KEY)
    session_id = codec.issue(version="2025-03-26", subject="a", route="demo/toolbox")
    session = codec.check(session_id)
    assert session is not None
    codec.end(session)
    assert codec.check(session_id) is None
    other = codec.issue(version="2025-03-26", subject="a", route="demo/toolbox")
    assert codec.check(other) is not None


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SessionCodec(b"short")
