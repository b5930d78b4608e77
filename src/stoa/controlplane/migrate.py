"""Schema migrations with Alembic, driven from code (`stoa migrate`, `stoa up`, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from stoa.controlplane.db import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


async def upgrade_to_head(database_url: str) -> None:
    """Bring the database at `database_url` to the newest schema."""
    engine = create_engine(database_url)
    try:
        await _upgrade(engine, database_url)
    finally:
        await engine.dispose()


async def _upgrade(engine: AsyncEngine, database_url: str) -> None:
    config = alembic_config(database_url)

    def run(connection: object) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(run)


def upgrade_to_head_sync(database_url: str) -> None:
    asyncio.run(upgrade_to_head(database_url))
