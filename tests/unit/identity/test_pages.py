"""The sign-in, code, consent and enrolment pages are accessible and escape what they show."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from stoa.controlplane.models import Application
from stoa.identity import pages


class Outline(HTMLParser):
    """What an accessibility check needs: language, headings, inputs and their labels."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.h1 = 0
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.alerts = 0
        self.scripts = 0
        self._in_label = 0
        self.wrapped_inputs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        elif tag == "h1":
            self.h1 += 1
        elif tag == "label":
            self._in_label += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        elif tag == "input":
            self.inputs.append(found)
            if self._in_label:
                self.wrapped_inputs += 1
        elif tag == "script":
            self.scripts += 1
        if found.get("role") == "alert":
            self.alerts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._in_label -= 1


def _outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    return parsed


def _apps() -> list[Application]:
    return [Application(id="app_1", name="alpha"), Application(id="app_2", name="beta")]


PAGES = {
    "login": pages.login_page(
        client_name="Agent", action="/a", request="q=1", csrf="c", error="Wrong email or password."
    ),
    "code": pages.second_factor_page(action="/a", request="q", csrf="c", pending="p", error="bad"),
    "consent": pages.consent_page(
        action="/a",
        request="q",
        csrf="c",
        client_name="Agent",
        client_uri="https://agent.example",
        client_id="oc_1",
        user_label="dev@acme.test",
        scopes=["openid", "stoa:read"],
        resource="https://gw.example/mcp",
        applications=_apps(),
        error="Choose one.",
    ),
    "enrolment": pages.enrolment_page(
        action="/a", csrf="c", qr_svg="<svg></svg>", secret="ABC", error="bad code"
    ),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_pages_have_a_language_one_heading_labelled_inputs_an_alert_and_no_script(
    name: str,
) -> None:
    outline = _outline(PAGES[name])
    assert outline.lang == "en"
    assert outline.h1 == 1
    assert outline.alerts == 1
    assert outline.scripts == 0
    visible = [i for i in outline.inputs if i.get("type") not in ("hidden", "radio")]
    for field in visible:
        assert field.get("id") in outline.label_for, field
        assert field.get("aria-describedby") == "form-error"
    radios = [i for i in outline.inputs if i.get("type") == "radio"]
    assert outline.wrapped_inputs == len(radios)


def test_what_clients_and_users_supply_is_escaped() -> None:
    page = pages.consent_page(
        action="/a",
        request='"><script>alert(1)</script>',
        csrf="c",
        client_name="<img src=x onerror=alert(1)>",
        client_uri=None,
        client_id="oc_1",
        user_label="dev@acme.test",
        scopes=["stoa:read"],
        resource=None,
        applications=[Application(id="app_1", name="<b>bold</b>")],
    )
    assert "<script>" not in page
    assert "<img" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
