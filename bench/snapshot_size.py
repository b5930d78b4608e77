"""`python -m bench.snapshot_size`: how long a large snapshot takes to build, transfer and
compile. Run by hand, never from `make test`.

Seeds a scratch database (SQLite by default, or `--database-url`) with `--apis` APIs of
`--tools-per-api` tools each and `--keys` API keys (10 per application, each application
subscribed to one API), then measures:

- build: the control plane's `publish` (queries, snapshot objects, encode, content hash);
- fetch: `GET /v1/snapshot` from a real control plane on loopback with a gateway token
  (it builds afresh, so this is build + transfer);
- decode and compile: what a gateway does before it swaps the snapshot in.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import insert

from stoa.contract.snapshot import decode_snapshot
from stoa.controlplane.app import create_app
from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.gateway_fleet.schemas import GatewayTokenCreate
from stoa.controlplane.gateway_fleet.service import create_token
from stoa.controlplane.migrate import upgrade_to_head
from stoa.controlplane.models import Api, ApiKey, Application, Plan, Subscription, Tenant, Tool
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.principal import PLATFORM_ADMIN, Principal
from stoa.controlplane.snapshot.service import publish
from stoa.gateway.snapshot.compiled import compile_snapshot
from stoa.kit.api_key import key_digest
from stoa.kit.crypto import SecretBox
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.settings import Settings

TENANTS = 100
KEYS_PER_APPLICATION = 10
BATCH = 5000
OPERATOR = Principal("bench", "bench", None, None, frozenset({PLATFORM_ADMIN}))


@contextmanager
def timed(label: str, results: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    results[label] = time.perf_counter() - started
    print(f"  {label:<28} {results[label]:8.2f} s", flush=True)


def _rows(args: argparse.Namespace, hash_secret: bytes) -> dict[type[Any], list[dict[str, Any]]]:
    from stoa.controlplane.models import User

    now = utcnow()
    tenants = [
        {"id": f"ten_{t:05d}", "slug": f"t{t}", "name": f"T{t}", "status": "active"}
        for t in range(TENANTS)
    ]
    plans = [
        {"id": f"pln_{t:05d}", "tenant_id": f"ten_{t:05d}", "name": "gold"} for t in range(TENANTS)
    ]
    apis, tools = [], []
    for a in range(args.apis):
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
                "backend_url": f"http://backend-{a}.internal:8080/v1",
                "published_at": now,
            }
        )
        for t in range(args.tools_per_api):
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
    applications = max(1, args.keys // KEYS_PER_APPLICATION)
    users = [
        {
            "id": f"usr_{u:06d}",
            "email": f"u{u}@bench.test",
            "name": f"u{u}",
            "tenant_id": "ten_00000",
        }
        for u in range(max(1, applications // 20))
    ]
    apps, subscriptions, keys = [], [], []
    for p in range(applications):
        api = p % args.apis
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
    for k in range(args.keys):
        secret = f"stoa_sk_bench{k:08d}"
        keys.append(
            {
                "id": f"key_{k:07d}",
                "application_id": f"app_{k % applications:06d}",
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


async def _seed(settings: Settings, args: argparse.Namespace) -> str:
    """Seed the database; returns a gateway token."""
    await upgrade_to_head(settings.resolved_database_url)
    secrets = load_platform_secrets(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        sessions = create_sessionmaker(engine)
        for model, rows in _rows(args, secrets.key_hash_secret).items():
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


async def _build(settings: Settings) -> bytes:
    secrets = load_platform_secrets(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            published = await publish(
                session, SecretBox(secrets.master_key), secrets.key_hash_secret
            )
        return published.body
    finally:
        await engine.dispose()


def _fetch(settings: Settings, token: str, port: int) -> bytes:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        response = httpx.get(
            url + "/v1/snapshot", headers={"authorization": f"Bearer {token}"}, timeout=600
        )
        response.raise_for_status()
        return response.content
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apis", type=int, default=10_000)
    parser.add_argument("--tools-per-api", type=int, default=5)
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--port", type=int, default=18_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stoa-bench-snapshot-") as scratch:
        settings = Settings(data_dir=Path(scratch), database_url=args.database_url)
        results: dict[str, float] = {}
        print(
            f"snapshot of {args.apis} APIs, {args.apis * args.tools_per_api} tools, "
            f"{args.keys} keys on {settings.resolved_database_url.split(':')[0]}",
            flush=True,
        )
        with timed("seed (not part of sync)", results):
            token = asyncio.run(_seed(settings, args))
        with timed("build (publish)", results):
            body = asyncio.run(_build(settings))
        with timed("fetch over HTTP (build incl.)", results):
            fetched = _fetch(settings, token, args.port)
        with timed("decode", results):
            snapshot = decode_snapshot(fetched)
        with timed("compile", results):
            compile_snapshot(snapshot)
        print(f"  size {len(body) / 1e6:.1f} MB, gzip {len(gzip.compress(body, 1)) / 1e6:.1f} MB")
        total = sum(
            v
            for k, v in results.items()
            if k != "seed (not part of sync)" and k != "build (publish)"
        )
        print(f"  a gateway's full sync (fetch + decode + compile): {total:.2f} s")


if __name__ == "__main__":
    main()
