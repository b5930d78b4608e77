"""Build test situations directly in the database, and call the API as any user.

Seeding writes rows directly (fast, independent of the API under test); every assertion
then goes through real HTTP against the running control plane.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc.jwk import ECKey

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.models import RoleBinding, Tenant, User
from stoa.identity.signing_keys import current_signing_key
from stoa.identity.tokens import mint_access_token
from stoa.kit.crypto import SecretBox
from stoa.kit.ids import new_id
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.settings import Settings


@dataclass
class Caller:
    """A user and an HTTP client that sends their bearer token."""

    user_id: str
    email: str
    tenant: str | None
    roles: tuple[str, ...]
    token: str
    http: httpx.Client = field(repr=False)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.patch(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.put(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.delete(path, **kwargs)


class World:
    def __init__(self, settings: Settings, base_url: str) -> None:
        self.settings = settings
        self.base_url = base_url
        self._tenants: dict[str, str] = {}
        self._clients: list[httpx.Client] = []
        self._signing_key: ECKey | None = None

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def _run(self, *rows: Any) -> None:
        async def insert() -> None:
            engine = create_engine(self.settings.resolved_database_url)
            try:
                async with create_sessionmaker(engine)() as session, session.begin():
                    for row in rows:
                        session.add(row)
                        await session.flush()
            finally:
                await engine.dispose()

        asyncio.run(insert())

    def tenant(self, slug: str, *, status: str = "active") -> str:
        """Create a tenant; returns its id."""
        tenant_id = new_id("ten")
        self._run(Tenant(id=tenant_id, slug=slug, name=slug.title(), status=status))
        self._tenants[slug] = tenant_id
        return tenant_id

    def tenant_id(self, slug: str) -> str:
        return self._tenants[slug]

    def user(self, email: str, *, tenant: str | None = None, roles: Sequence[str] = ()) -> Caller:
        """Create a user in `tenant` (created too if new) with `roles`, and their client."""
        if tenant is not None and tenant not in self._tenants:
            self.tenant(tenant)
        tenant_id = self._tenants[tenant] if tenant is not None else None
        user_id = new_id("usr")
        rows: list[Any] = [
            User(
                id=user_id, email=email, name=email.split("@")[0], tenant_id=tenant_id, kind="human"
            )
        ]
        for role in roles:
            rows.append(
                RoleBinding(
                    id=new_id("rb"),
                    user_id=user_id,
                    role=role,
                    tenant_id=None if role == "cpi-admin" else tenant_id,
                )
            )
        self._run(*rows)
        return self.caller_for(user_id, email, tenant, roles)

    def caller_for(
        self, user_id: str, email: str, tenant: str | None, roles: Sequence[str], **claims: Any
    ) -> Caller:
        token = self.token(user_id, tenant=tenant, roles=roles, email=email, **claims)
        client = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self._clients.append(client)
        return Caller(user_id, email, tenant, tuple(roles), token, client)

    def token(
        self,
        user_id: str,
        *,
        tenant: str | None,
        roles: Sequence[str],
        email: str | None = None,
        **overrides: Any,
    ) -> str:
        return mint_access_token(
            self.signing_key(),
            issuer=overrides.get("issuer", self.settings.issuer),
            audience=overrides.get("audience", self.settings.token_audience),
            subject=user_id,
            roles=roles,
            tenant=tenant,
            email=email,
            lifetime_seconds=overrides.get("lifetime_seconds", 900),
            now=overrides.get("now"),
        )

    def signing_key(self) -> ECKey:
        """The identity service's current signing key, read from the database (created
        there if the tables were just emptied) with the data dir's master key."""
        if self._signing_key is None:
            box = SecretBox(load_platform_secrets(self.settings).master_key)

            async def read() -> ECKey:
                engine = create_engine(self.settings.resolved_database_url)
                try:
                    async with create_sessionmaker(engine)() as session, session.begin():
                        return await current_signing_key(session, box)
                finally:
                    await engine.dispose()

            self._signing_key = asyncio.run(read())
        return self._signing_key

    def anonymous(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=30)
        self._clients.append(client)
        return client

    def platform_admin(self) -> Caller:
        return self.user("root@platform.local", roles=["cpi-admin"])
