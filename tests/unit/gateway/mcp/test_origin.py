"""DNS-rebinding protection: which Origin headers may reach /mcp."""

from __future__ import annotations

import pytest

from stoa.gateway.mcp.origin import OriginPolicy

POLICY = OriginPolicy(["https://app.example"], public_url="https://gw.example")


def test_requests_without_origin_pass() -> None:
    assert POLICY.allows(None, "evil.example")


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://app.example", "gw.example"),
        ("HTTPS://APP.EXAMPLE:443", "gw.example"),
        ("https://gw.example", "gw.example"),
        ("http://localhost:8080", "localhost:8080"),
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("http://[::1]:8080", "[::1]:8080"),
    ],
)
def test_listed_public_and_loopback_origins_pass(origin: str, host: str) -> None:
    assert POLICY.allows(origin, host)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://evil.example", "127.0.0.1:8080"),
        # DNS rebinding: the browser names the attacker's host in both headers.
        ("http://evil.example:8080", "evil.example:8080"),
        ("http://localhost:3000", "localhost:8080"),
        ("null", "127.0.0.1:8080"),
        ("https://app.example.evil.example", "gw.example"),
    ],
)
def test_foreign_origins_are_refused(origin: str, host: str) -> None:
    assert not POLICY.allows(origin, host)


def test_a_star_allows_every_origin() -> None:
    assert OriginPolicy(["*"]).allows("http://anything.example", "gw")
