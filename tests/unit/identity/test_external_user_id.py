"""External users get a STOA id derived from (issuer, sub): stable, and distinct per issuer."""

from __future__ import annotations

import re

from stoa.controlplane.external_users import external_user_id

ID_SHAPE = re.compile(r"^usr_[0-9A-HJKMNP-TV-Z]{26}$")  # the shape of stoa.kit.ids.new_id


def test_the_same_subject_at_the_same_issuer_is_always_the_same_user() -> None:
    first = external_user_id("https://sso.example/realms/stoa", "f81d4fae")
    assert first == external_user_id("https://sso.example/realms/stoa/", "f81d4fae")
    assert ID_SHAPE.match(first)


def test_the_same_subject_at_another_issuer_is_another_user() -> None:
    assert external_user_id("https://a.example", "alice") != external_user_id(
        "https://b.example", "alice"
    )


def test_issuer_and_subject_cannot_be_shifted_into_each_other() -> None:
    assert external_user_id("https://a.example/x", "y") != external_user_id(
        "https://a.example", "x/y"
    )
