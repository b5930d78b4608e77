"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stoa.controlplane.db import create_engine
from stoa.controlplane.models import Base
from support.databases import Backend


def _differences(url: str) -> list[Any]:
    async def compare() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}),
                        Base.metadata,
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def test_migrated_database_matches_the_models(backend: Backend) -> None:
    assert _differences(backend.settings.resolved_database_url) == []
