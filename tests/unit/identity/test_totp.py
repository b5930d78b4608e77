"""TOTP second factor: RFC 6238 codes, drift window, replay refusal, enrolment URI and QR."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest

from stoa.identity.totp import (
    InvalidSecret,
    code_at,
    generate_secret,
    provisioning_uri,
    qr_code_svg,
    step_at,
    verify_code,
)

# RFC 6238 appendix B: the SHA-1 seed "12345678901234567890"; the 6-digit codes are the
# last six digits of the published 8-digit values.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("when", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_codes_match_the_rfc_6238_test_vectors(when: int, code: str) -> None:
    assert code_at(RFC_SECRET, when) == code
    assert verify_code(RFC_SECRET, code, now=when) == step_at(when)


def test_generated_secrets_are_160_bit_base32_and_distinct() -> None:
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert len(base64.b32decode(first + "=" * (-len(first) % 8))) == 20


def test_a_code_from_one_step_either_side_is_accepted_but_not_two() -> None:
    secret = generate_secret()
    now = 1_700_000_015.0
    assert verify_code(secret, code_at(secret, now - 30), now=now) == step_at(now) - 1
    assert verify_code(secret, code_at(secret, now + 30), now=now) == step_at(now) + 1
    assert verify_code(secret, code_at(secret, now - 60), now=now) is None
    assert verify_code(secret, code_at(secret, now + 60), now=now) is None


def test_a_used_code_cannot_be_replayed() -> None:
    secret = generate_secret()
    now = 1_700_000_000.0
    code = code_at(secret, now)
    used = verify_code(secret, code, now=now)
    assert used is not None
    assert verify_code(secret, code, now=now + 10, last_used_step=used) is None
    # The previous step's code is older still, so it is refused too.
    assert verify_code(secret, code_at(secret, now - 30), now=now, last_used_step=used) is None
    # The next code is fine.
    assert verify_code(secret, code_at(secret, now + 30), now=now + 30, last_used_step=used) == (
        used + 1
    )


@pytest.mark.parametrize("typed", ["{} {}", " {}{} "])
def test_spaces_in_a_typed_code_are_ignored(typed: str) -> None:
    secret = generate_secret()
    code = code_at(secret, 1_700_000_000)
    assert verify_code(secret, typed.format(code[:3], code[3:]), now=1_700_000_000) is not None


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12 34 5"])
def test_malformed_codes_are_refused(bad: str) -> None:
    assert verify_code(generate_secret(), bad, now=1_700_000_000) is None


def test_a_wrong_code_is_refused() -> None:
    secret = generate_secret()
    right = code_at(secret, 1_700_000_000)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert verify_code(secret, wrong, now=1_700_000_000) is None


@pytest.mark.parametrize("secret", ["not base32!", "GEZDGNBV"])
def test_a_corrupt_or_short_secret_is_reported(secret: str) -> None:
    with pytest.raises(InvalidSecret):
        verify_code(secret, "123456", now=0)


def test_provisioning_uri_names_account_issuer_and_parameters() -> None:
    secret = generate_secret()
    uri = provisioning_uri(secret, account="dev@demo.local", issuer="STOA")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert "dev%40demo.local" in parts.path or "dev@demo.local" in parts.path
    query = parse_qs(parts.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["STOA"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]


def test_qr_code_is_an_svg_with_an_accessible_title() -> None:
    uri = provisioning_uri(generate_secret(), account="dev@demo.local", issuer="STOA")
    svg = qr_code_svg(uri, title="Scan with your authenticator")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    title = root.findtext("{*}title") or root.findtext("title")
    assert title == "Scan with your authenticator"
    assert int(root.attrib["width"]) > 100  # big enough to scan
