"""A large configuration in a scratch database, for `bench.snapshot_size` and
`bench.sync_latency`.

`--apis` APIs of `--tools-per-api` tools each, spread over 100 tenants, and `--keys` API
keys: 10 per application, each application subscribed to one API. The rows are inserted
in bulk, without audit entries (they are not what is measured). Key number `k` has the
secret `key_secret(k)`, so a benchmark can present it.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import insert

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.gateway_fleet.schemas import GatewayTokenCreate
from stoa.controlplane.gateway_fleet.service import create_token
from stoa.controlplane.migrate import upgrade_to_head
from stoa.controlplane.models import (
    Api,
    ApiKey,
    Application,
    Plan,
    Subscription,
    Tenant,
    Tool,
    User,
)
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.principal import PLATFORM_ADMIN, Principal
from stoa.kit.api_key import key_digest
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.settings import Settings

TENANTS = 100
KEYS_PER_APPLICATION = 10
BATCH = 5000
OPERATOR = Principal("bench", "bench", None, None, frozenset({PLATFORM_ADMIN}))


@dataclass(frozen=True)
class Size:
    apis: int
    tools_per_api: int
    keys: int

    @property
    def applications(self) -> int:
        return max(1, self.keys // KEYS_PER_APPLICATION)

    def describe(self) -> str:
        return f"{self.apis} APIs, {self.apis * self.tools_per_api} tools, {self.keys} keys"


def add_size_arguments(parser: argparse.ArgumentParser, apis: int, keys: int) -> None:
    parser.add_argument("--apis", type=int, default=apis)
    parser.add_argument("--tools-per-api", type=int, default=5)
    parser.add_argument("--keys", type=int, default=keys)
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: SQLite in a temporary directory. A PostgreSQL URL names the server "
        "and a database to connect to; a scratch database is created beside it and dropped "
        "afterwards, so the one named is never written to",
    )


def size_of(args: argparse.Namespace) -> Size:
    return Size(apis=args.apis, tools_per_api=args.tools_per_api, keys=args.keys)


def key_secret(k: int) -> str:
    return f"stoa_sk_bench{k:08d}"


def key_id(k: int) -> str:
    return f"key_{k:07d}"


def application_of_key(size: Size, k: int) -> str:
    return f"app_{k % size.applications:06d}"


def route_of_key(size: Size, k: int) -> str:
    """`/proxy/{tenant}/{api}` of the API key `k`'s application is subscribed to."""
    api = (k % size.applications) % size.apis
    return f"/proxy/t{api % TENANTS}/api{api}"


def default_backend(api: int) -> str:
    return f"http://backend-{api}.internal:8080/v1"


def _rows(
    size: Size, hash_secret: bytes, backend_url: Callable[[int], str]
) -> dict[type[Any], list[dict[str, Any]]]:
    now = utcnow()
    tenants = [
        {"id": f"ten_{t:05d}", "slug": f"t{t}", "name": f"T{t}", "status": "active"}
        for t in range(TENANTS)
    ]
    plans = [
        {"id": f"pln_{t:05d}", "tenant_id": f"ten_{t:05d}", "name": "gold"} for t in range(TENANTS)
    ]
    apis, tools = [], []
    for a in range(size.apis):
        tenant = f"ten_{a % TENANTS:05d}"
        apis.append(
            {
                "id": f"api_{a:06d}",
                "tenant_id": tenant,
                "name": f"api{a}",
                "title": f"API {a}",
                "kind": "rest",
                "visibility": "public",
                "lifecycle": "published",
                "backend_url": backend_url(a),
                "published_at": now,
            }
        )
        for t in range(size.tools_per_api):
            tools.append(
                {
                    "id": f"tool_{a:06d}_{t:03d}",
                    "api_id": f"api_{a:06d}",
                    "tenant_id": tenant,
                    "name": f"operation{t}",
                    "description": "Returns the forecast for a city, in metric units.",
                    "input_schema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                        "required": ["city"],
                    },
                    "annotations": {"readOnlyHint": True},
                    "binding": {"method": "GET", "path": f"/op{t}", "query": ["city", "days"]},
                }
            )
    users = [
        {
            "id": f"usr_{u:06d}",
            "email": f"u{u}@bench.test",
            "name": f"u{u}",
            "tenant_id": "ten_00000",
        }
        for u in range(max(1, size.applications // 20))
    ]
    apps, subscriptions, keys = [], [], []
    for p in range(size.applications):
        api = p % size.apis
        apps.append(
            {
                "id": f"app_{p:06d}",
                "owner_id": f"usr_{p % len(users):06d}",
                "tenant_id": "ten_00000",
                "name": f"app{p}",
            }
        )
        subscriptions.append(
            {
                "id": f"sub_{p:06d}",
                "application_id": f"app_{p:06d}",
                "api_id": f"api_{api:06d}",
                "plan_id": f"pln_{api % TENANTS:05d}",
                "tenant_id": f"ten_{api % TENANTS:05d}",
                "status": "active",
            }
        )
    for k in range(size.keys):
        secret = key_secret(k)
        keys.append(
            {
                "id": key_id(k),
                "application_id": application_of_key(size, k),
                "name": "k",
                "prefix": secret[:16],
                "digest": key_digest(hash_secret, secret),
                "status": "active",
            }
        )
    return {
        Tenant: tenants,
        User: users,
        Plan: plans,
        Api: apis,
        Tool: tools,
        Application: apps,
        Subscription: subscriptions,
        ApiKey: keys,
    }


async def seed(
    settings: Settings, size: Size, backend_url: Callable[[int], str] = default_backend
) -> str:
    """Migrate and seed the database; returns a new gateway token."""
    await upgrade_to_head(settings.resolved_database_url)
    secrets = load_platform_secrets(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        sessions = create_sessionmaker(engine)
        for model, rows in _rows(size, secrets.key_hash_secret, backend_url).items():
            for start in range(0, len(rows), BATCH):
                async with sessions() as session, session.begin():
                    await session.execute(insert(model), rows[start : start + BATCH])
        async with sessions() as session, session.begin():
            issued = await create_token(
                session, OPERATOR, secrets.key_hash_secret, GatewayTokenCreate(name="bench")
            )
        return issued.secret
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(url: str | None) -> Iterator[str | None]:
    """`url` itself when it is None (SQLite in the data dir) or not PostgreSQL; for a
    PostgreSQL URL, a new database on the same server, dropped on the way out."""
    if url is None or not url.startswith(("postgresql", "postgres:")):
        yield url
        return
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    base = plain.rsplit("/", 1)[0]
    name = f"stoa_bench_{uuid.uuid4().hex[:12]}"

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(plain)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
