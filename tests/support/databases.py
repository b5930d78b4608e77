"""Scratch databases for integration tests: a SQLite file, or a fresh PostgreSQL database
on the local server (127.0.0.1:5432, trust auth), migrated with the real migrations."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import text

from stoa.controlplane.db import create_engine
from stoa.controlplane.migrate import upgrade_to_head
from stoa.controlplane.models import Base
from stoa.kit.settings import Settings

POSTGRES_ADMIN_DSN = os.environ.get(
    "STOA_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Backend:
    """A running control plane on one database backend."""

    kind: str  # "sqlite" or "postgresql"
    settings: Settings
    url: str  # the control plane's base URL


async def create_postgres_database() -> str:
    """A new empty database; returns its SQLAlchemy URL."""
    name = f"stoa_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def create_database(kind: str, scratch: Path) -> str:
    """A migrated scratch database of `kind` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{scratch / 'stoa.db'}"
    else:
        url = asyncio.run(create_postgres_database())
    asyncio.run(upgrade_to_head(url))
    return url


def drop_database(kind: str, url: str) -> None:
    if kind == "postgresql":
        asyncio.run(drop_postgres_database(url))


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    try:
        async with engine.begin() as connection:
            if url.startswith("postgresql"):
                await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
            else:
                for table in tables:
                    await connection.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()


def truncate_all(url: str) -> None:
    """Empty every table, keeping the schema."""
    asyncio.run(_truncate(url))
