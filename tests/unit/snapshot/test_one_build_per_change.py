"""The control plane's snapshot cache: one build per change for a whole fleet, and one
compression per build."""

from __future__ import annotations

import asyncio
import gzip
import itertools
from typing import Any

from stoa.controlplane.snapshot.watch import Published, SnapshotWatch


class _Session:
    """All the watch asks of a session itself: to begin its transaction."""

    async def connection(self) -> None:
        return None


NO_SESSION: Any = _Session()  # the build and revision stand-ins below use nothing else


class Builds:
    """A build function that counts its calls and can be held open."""

    def __init__(self) -> None:
        self.count = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, _session: Any) -> Published:
        self.count += 1
        number = self.count
        await self.gate.wait()
        return Published(hash=f"{number:064x}", body=b"{}")


async def _revision(_session: Any) -> int:
    return 1


def _watch(builds: Builds) -> SnapshotWatch:
    ticks = itertools.count()
    return SnapshotWatch(_revision, builds, clock=lambda: float(next(ticks)))


def test_fresh_fetches_waiting_on_a_build_share_the_next_one() -> None:
    async def scenario() -> list[str]:
        builds = Builds()
        watch = _watch(builds)
        builds.gate.clear()
        first = asyncio.create_task(watch.latest(NO_SESSION, fresh=True))
        await asyncio.sleep(0)  # the first build is under way...
        waiting = [asyncio.create_task(watch.latest(NO_SESSION, fresh=True)) for _ in range(5)]
        await asyncio.sleep(0)  # ...when five more fetches arrive
        builds.gate.set()
        answers = await asyncio.gather(first, *waiting)
        assert builds.count == 2
        return [published.hash for published in answers]

    hashes = asyncio.run(scenario())
    # The first fetch gets the build that was running; the others arrived after it began,
    # so it may predate a write they expect to see: they share one build made for them.
    assert hashes[0] == f"{1:064x}"
    assert set(hashes[1:]) == {f"{2:064x}"}


def test_a_fetch_without_fresh_reuses_the_build_while_the_revision_holds() -> None:
    async def scenario() -> int:
        builds = Builds()
        watch = _watch(builds)
        await watch.latest(NO_SESSION, fresh=True)
        assert watch.cached_hash == f"{1:064x}"
        await watch.latest(NO_SESSION)
        await watch.latest(NO_SESSION)
        return builds.count

    assert asyncio.run(scenario()) == 1


def test_the_gzipped_body_is_compressed_once_and_decompresses_to_the_body() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        published = Published(hash="0" * 64, body=b'{"apis":[]}' * 1000)
        return await published.gzipped(), await published.gzipped()

    first, second = asyncio.run(scenario())
    assert first is second
    assert gzip.decompress(first) == b'{"apis":[]}' * 1000
    assert len(first) < 1000
