"""A synced gateway asks for the snapshot the long poll announced, so the control plane
can serve the one it built for that announcement; a start or a SIGHUP asks for a fresh
one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from stoa.contract import sync
from stoa.contract.snapshot import SCHEMA_VERSION, Snapshot, content_hash, encode_snapshot
from stoa.gateway.snapshot.sync import ConfigSync, GatewayIdentity


def _snapshot(generated_at: float) -> Snapshot:
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        generated_at=generated_at,
        apis=[],
        plans=[],
        applications=[],
        subscriptions=[],
        keys=[],
        policies=[],
    )


def test_loop_fetch_names_the_announced_hash_and_start_does_not(tmp_path: Path) -> None:
    snapshot = _snapshot(time.time())
    body, digest = encode_snapshot(snapshot), content_hash(snapshot)
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

    syncer = ConfigSync(
        control_plane_url="http://cp.test",
        token="stoa_gw_test",
        identity=GatewayIdentity("gwi_1", "edge", "test", "http://edge.test"),
        copy_file=tmp_path / "synced-snapshot",
        wait_seconds=1.0,
        backoff_max_seconds=1.0,
        transport=httpx.MockTransport(control_plane),
    )
    assert syncer.initial() is not None
    syncer.run(stop)  # polls, hears of `announced`, fetches naming it
    syncer.close()
    assert wanted == [None, announced]
