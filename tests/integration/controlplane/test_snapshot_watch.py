"""The snapshot cache shared by every gateway's fetch and long poll, on a real SQLite file
(where every transaction takes the database's write lock at BEGIN)."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.snapshot.watch import Published, SnapshotWatch


async def _revision(session: AsyncSession) -> Hashable:
    return (await session.execute(select(1))).scalar_one()


async def _build(session: AsyncSession) -> Published:
    await session.execute(select(2))
    return Published(hash="h" * 64, body=b"{}")


@pytest.mark.anyio
async def test_a_fetch_and_a_long_poll_at_the_same_moment_do_not_wait_on_each_other(
    tmp_path: Path,
) -> None:
    """A full fetch notes the gateway's visit (a write) and then asks the watch; a long
    poll asks the watch in a transaction of its own. When the long poll got the watch's
    lock first, it must not then wait for the database lock the fetch holds while the
    fetch waits for the watch's lock: on SQLite that stalled both until the busy timeout
    (30 s) failed the long poll with "database is locked"."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}")
    sessions = create_sessionmaker(engine)
    watch = SnapshotWatch(_revision, _build)
    poll_entered = asyncio.Event()

    async def long_poll() -> Published:
        async with sessions() as session, session.begin():
            poll_entered.set()
            return await watch.latest(session)

    async def fetch() -> Published:
        async with sessions() as session, session.begin():
            await session.execute(select(3))  # the visit: holds the write lock from here
            poll = asyncio.create_task(long_poll())
            await poll_entered.wait()
            published = await watch.latest(session, fresh=True)
        assert (await poll).hash == published.hash
        return published

    try:
        assert (await asyncio.wait_for(fetch(), timeout=60)).hash == "h" * 64
    finally:
        await engine.dispose()
