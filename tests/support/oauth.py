"""Drive the embedded authorization server the way a browser and an OAuth client do:
real HTTP, cookies, HTML forms, PKCE. Seeds people with passwords, their applications and
service accounts directly in the database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import update

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.models import Application, RoleBinding, User
from stoa.kit.ids import new_id
from stoa.kit.passwords import hash_password
from support.world import Caller, World

REDIRECT_URI = "http://127.0.0.1:53682/callback"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_RADIO = re.compile(r'<input type="radio" name="application" value="([^"]+)"')


def execute_statement(world: World, statement: Any) -> None:
    async def run() -> None:
        engine = create_engine(world.settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await session.execute(statement)
        finally:
            await engine.dispose()

    asyncio.run(run())


def person(
    world: World,
    email: str,
    password: str,
    *,
    tenant: str | None = "acme",
    roles: list[str] | None = None,
) -> Caller:
    """A human user with a password (and the usual test caller)."""
    caller = world.user(email, tenant=tenant, roles=roles or [])
    execute_statement(
        world,
        update(User).where(User.id == caller.user_id).values(password_hash=hash_password(password)),
    )
    return caller


def application(world: World, owner: Caller, name: str) -> str:
    app_id = new_id("app")
    tenant_id = world.tenant_id(owner.tenant) if owner.tenant else None
    world._run(Application(id=app_id, owner_id=owner.user_id, tenant_id=tenant_id, name=name))
    return app_id


def service_account(
    world: World, name: str, *, tenant: str = "acme", roles: tuple[str, ...] = ("devops",)
) -> tuple[str, str]:
    """A service account; returns (client_id, client_secret)."""
    if tenant not in world._tenants:
        world.tenant(tenant)
    tenant_id = world.tenant_id(tenant)
    user_id, client_id = new_id("usr"), f"stoa_sa_{secrets.token_hex(8)}"
    secret = f"stoa_cs_{secrets.token_urlsafe(24)}"
    rows: list[Any] = [
        User(
            id=user_id,
            kind="service",
            name=name,
            tenant_id=tenant_id,
            client_id=client_id,
            client_secret_hash=hash_password(secret),
        )
    ]
    rows += [
        RoleBinding(id=new_id("rb"), user_id=user_id, role=r, tenant_id=tenant_id) for r in roles
    ]
    world._run(*rows)
    return client_id, secret


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    return verifier, challenge


def hidden_fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def application_choices(page: str) -> list[str]:
    return _RADIO.findall(page)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class Browser:
    """A browser: one cookie jar, never following redirects by itself."""

    base_url: str

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def authorize(self, **params: str) -> httpx.Response:
        return self.http.get(f"/oauth/authorize?{urlencode(params)}")

    def submit(self, page: httpx.Response, action: str, **fields: str) -> httpx.Response:
        return self.http.post(action, data={**hidden_fields(page.text), **fields})


def register_client(
    base_url: str, redirect_uri: str = REDIRECT_URI, **extra: Any
) -> dict[str, Any]:
    body = {
        "client_name": "Test agent",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        **extra,
    }
    response = httpx.post(f"{base_url}/oauth/register", json=body, timeout=30)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


@dataclass
class CodeResult:
    code: str
    verifier: str
    location: str
    params: dict[str, str]


def obtain_code(
    browser: Browser,
    client_id: str,
    email: str,
    password: str,
    *,
    redirect_uri: str = REDIRECT_URI,
    scope: str = "openid profile email stoa:read",
    application_id: str | None = None,
    **extra: str,
) -> CodeResult:
    """Run authorize, the sign-in form and consent (allow); returns the code and verifier."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    page = browser.authorize(
        response_type="code",
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        code_challenge=challenge,
        code_challenge_method="S256",
        **extra,
    )
    assert page.status_code == 200, page.text
    if 'name="password"' in page.text:
        page = browser.submit(page, "/oauth/authorize/login", email=email, password=password)
        assert page.status_code == 200, page.text
    assert "Allow" in page.text, page.text
    fields: dict[str, str] = {"decision": "allow"}
    choices = application_choices(page.text)
    if choices:
        fields["application"] = application_id or choices[0]
    done = browser.submit(page, "/oauth/authorize/consent", **fields)
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    params = query_of(location)
    assert params["state"] == state
    return CodeResult(params["code"], verifier, location, params)


def exchange(base_url: str, client_id: str, result: CodeResult, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": result.code,
        "code_verifier": result.verifier,
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        **extra,
    }
    return httpx.post(f"{base_url}/oauth/token", data=data, timeout=30)


def token_request(base_url: str, **data: str) -> httpx.Response:
    return httpx.post(f"{base_url}/oauth/token", data=data, timeout=30)
