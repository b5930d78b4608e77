"""Helpers for driving the MCP SDK's OAuth clients against the embedded authorization
server: token storage in memory, and a person who answers the sign-in and consent pages
by HTTP when the SDK "opens the browser"."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
from mcp.client.auth import TokenStorage
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


@dataclass
class MemoryStorage(TokenStorage):
    tokens: OAuthToken | None = None
    client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@dataclass
class PersonAtTheBrowser:
    """Signs in and allows access for `application_id`, as the user would in a browser;
    pass `redirect` and `callback` to `OAuthClientProvider`."""

    email: str
    password: str
    application_id: str
    result: AuthorizationCodeResult | None = None
    pages_seen: list[str] = field(default_factory=list)
    authorization_urls: list[str] = field(default_factory=list)

    async def redirect(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        base = authorization_url.split("/oauth/authorize")[0]
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as browser:
            page = await browser.get(authorization_url)
            assert page.status_code == 200, page.text
            self.pages_seen.append("login")
            consent = await browser.post(
                f"{base}/oauth/authorize/login",
                data={**_hidden_fields(page.text), "email": self.email, "password": self.password},
            )
            assert consent.status_code == 200, consent.text
            assert "Allow" in consent.text
            self.pages_seen.append("consent")
            done = await browser.post(
                f"{base}/oauth/authorize/consent",
                data={
                    **_hidden_fields(consent.text),
                    "decision": "allow",
                    "application": self.application_id,
                },
            )
            assert done.status_code == 303, done.text
            query = parse_qs(urlsplit(done.headers["location"]).query)
            params = {k: v[0] for k, v in query.items()}
            self.result = AuthorizationCodeResult(
                code=params["code"], state=params.get("state"), iss=params.get("iss")
            )

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result
