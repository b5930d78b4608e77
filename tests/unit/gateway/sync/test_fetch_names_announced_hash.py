"""A synced gateway asks for the snapshot the long poll announced, so the control plane
can serve the one it built for that announcement; a start or a SIGHUP asks for a fresh
one."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from stoa.contract import sync
from stoa.contract.snapshot import content_hash, encode_snapshot
from support.config_sync import config_sync, snapshot_of


def test_loop_fetch_names_the_announced_hash_and_start_does_not(tmp_path: Path) -> None:
    empty = snapshot_of()
    body, digest = encode_snapshot(empty), content_hash(empty)
    announced = "a" * 64  # what the long poll says; the fetch then gets `digest`
    wanted: list[str | None] = []
    stop = threading.Event()

    def control_plane(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/snapshot":
            wanted.append(request.headers.get(sync.WANTED_HEADER))
            if len(wanted) == 2:
                stop.set()
            return httpx.Response(200, content=body, headers={sync.HASH_HEADER: digest})
        return httpx.Response(200, json={"hash": announced})

    syncer = config_sync(control_plane, tmp_path / "synced-snapshot")
    assert syncer.initial() is not None
    syncer.run(stop)  # polls, hears of `announced`, fetches naming it
    syncer.close()
    assert wanted == [None, announced]
