"""Read what the user API stored, for the assertions HTTP cannot make (hashes at rest)."""

from __future__ import annotations

import asyncio

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.models import User
from support.world import World


def stored_user(world: World, user_id: str) -> User:
    """The user's row as stored, including password and client-secret hashes."""

    async def fetch() -> User | None:
        engine = create_engine(world.settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await session.get(User, user_id)
        finally:
            await engine.dispose()

    found = asyncio.run(fetch())
    if found is None:
        raise LookupError(f"user {user_id} is not stored")
    return found
