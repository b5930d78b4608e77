"""TOTP enrolment (QR code, recovery codes shown once), the one-time-code step at sign-in,
and brute-force throttling of sign-in attempts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from stoa.identity.totp import code_at
from support.oauth import REDIRECT_URI, Browser, person, pkce_pair, register_client
from support.world import World

PASSWORD = "correct-horse-battery-staple"
_SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')
_CODES = re.compile(r"<li>([a-z0-9-]{10,})</li>")


@pytest.fixture
def browser(world: World) -> Iterator[Browser]:
    opened = Browser(world.base_url)
    try:
        yield opened
    finally:
        opened.close()


def _enrol(world: World, email: str) -> tuple[str, list[str]]:
    """Turn TOTP on for `email` through the account pages; returns (secret, recovery codes)."""
    with httpx.Client(base_url=world.base_url, follow_redirects=False, timeout=30) as http:
        browser = Browser(world.base_url)
        browser.http = http
        login = http.get("/oauth/account/totp")
        assert login.status_code == 200
        assert 'name="password"' in login.text
        signed_in = browser.submit(login, "/oauth/authorize/login", email=email, password=PASSWORD)
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/oauth/account/totp"
        page = http.get("/oauth/account/totp")
        assert "<svg" in page.text
        assert "QR code" in page.text
        match = _SECRET.search(page.text)
        assert match is not None
        secret = match.group(1)
        wrong = browser.submit(page, "/oauth/account/totp", code="000000")
        assert wrong.status_code == 400
        assert 'role="alert"' in wrong.text
        done = browser.submit(wrong, "/oauth/account/totp", code=code_at(secret, time.time()))
        assert done.status_code == 200, done.text
        codes = _CODES.findall(done.text)
        assert len(codes) >= 8
        assert "shown only now" in done.text
        assert "already" in http.get("/oauth/account/totp").text
    return secret, codes


def _start(browser: Browser, client_id: str, email: str, password: str) -> httpx.Response:
    _, challenge = pkce_pair()
    page = browser.authorize(
        response_type="code",
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    return browser.submit(page, "/oauth/authorize/login", email=email, password=password)


def test_enrolled_user_must_give_a_one_time_code_after_the_password(
    world: World, browser: Browser
) -> None:
    user = person(world, "totp@acme.test", PASSWORD)
    secret, _ = _enrol(world, "totp@acme.test")
    audit = world.platform_admin().get("/v1/audit", params={"action": "user.totp_enable"})
    assert [e["target_id"] for e in audit.json()["items"]] == [user.user_id]
    client = register_client(world.base_url)

    step = _start(browser, client["client_id"], "totp@acme.test", PASSWORD)
    assert step.status_code == 200
    assert 'autocomplete="one-time-code"' in step.text
    assert "Allow" not in step.text
    assert "stoa_login" not in step.cookies

    wrong = browser.submit(step, "/oauth/authorize/second-factor", code="123456")
    assert wrong.status_code == 400
    # The code of the next time step: the one used at enrolment is never accepted again.
    consent = browser.submit(
        wrong, "/oauth/authorize/second-factor", code=code_at(secret, time.time() + 30)
    )
    assert consent.status_code == 200, consent.text
    assert "Allow" in consent.text


def test_a_recovery_code_works_once(world: World) -> None:
    person(world, "lost-phone@acme.test", PASSWORD)
    _, codes = _enrol(world, "lost-phone@acme.test")
    client = register_client(world.base_url)
    for expected in (200, 400):
        browser = Browser(world.base_url)
        try:
            step = _start(browser, client["client_id"], "lost-phone@acme.test", PASSWORD)
            answer = browser.submit(step, "/oauth/authorize/second-factor", code=codes[0])
            assert answer.status_code == expected, answer.text
        finally:
            browser.close()


def test_repeated_wrong_passwords_slow_the_account_down(world: World, browser: Browser) -> None:
    person(world, "victim@acme.test", PASSWORD)
    client = register_client(world.base_url)
    statuses = [
        _start(browser, client["client_id"], "victim@acme.test", "guess").status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [400] * 5
    assert statuses[-1] == 429
    # While the account is locked even the right password is not looked at.
    locked = _start(browser, client["client_id"], "victim@acme.test", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Try again in" in locked.text
