"""Recovery codes: shown once, stored as digests, each usable exactly once."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from stoa.identity.recovery_codes import (
    consume_recovery_code,
    generate_recovery_codes,
    recovery_code_digest,
)

KEY = secrets.token_bytes(32)


def test_ten_distinct_readable_codes_are_issued_with_their_digests() -> None:
    issued = generate_recovery_codes(KEY)
    assert len(issued.codes) == 10
    assert len(set(issued.codes)) == 10
    for code, digest in zip(issued.codes, issued.digests, strict=True):
        assert len(code) == 11
        assert code[5] == "-"
        assert code not in digest
        assert digest == recovery_code_digest(KEY, code)


def test_a_code_works_once_and_the_others_still_work() -> None:
    issued = generate_recovery_codes(KEY, count=3)
    stored = list(issued.digests)
    remaining = consume_recovery_code(KEY, issued.codes[1], stored)
    assert remaining == [issued.digests[0], issued.digests[2]]
    assert consume_recovery_code(KEY, issued.codes[1], remaining) is None
    after_second = consume_recovery_code(KEY, issued.codes[0], remaining)
    assert after_second == [issued.digests[2]]


@pytest.mark.parametrize("transform", [str.upper, lambda c: c.replace("-", ""), " {} ".format])
def test_case_spaces_and_dashes_do_not_matter(transform: Callable[[str], str]) -> None:
    issued = generate_recovery_codes(KEY, count=1)
    assert consume_recovery_code(KEY, transform(issued.codes[0]), issued.digests) == []


@pytest.mark.parametrize("presented", ["", "abcde-fghjk", "x" * 500, "aaaaa-aaaaa-aaaaa"])
def test_unknown_or_malformed_codes_are_refused(presented: str) -> None:
    issued = generate_recovery_codes(KEY)
    assert consume_recovery_code(KEY, presented, issued.digests) is None


def test_digests_depend_on_the_platform_secret() -> None:
    issued = generate_recovery_codes(KEY, count=1)
    other_key = secrets.token_bytes(32)
    assert consume_recovery_code(other_key, issued.codes[0], issued.digests) is None


def test_asking_for_no_codes_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        generate_recovery_codes(KEY, count=0)
