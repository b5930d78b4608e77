"""`python -m bench.snapshot_size`: how long a large snapshot takes to build, transfer and
compile. Run by hand, never from `make test`.

Seeds a scratch database (`bench.snapshot_seed`: SQLite by default, or `--database-url`)
with `--apis` APIs of `--tools-per-api` tools each and `--keys` API keys, then measures
each step a change goes through before a gateway serves it:

- build: the control plane's `publish` (queries, snapshot objects, encode, content hash);
- fetch, built afresh: `GET /v1/snapshot` from a real control plane on loopback with a
  gateway token, as a gateway's first fetch (build + gzip + transfer + inflate);
- fetch of the announced snapshot: the same with `X-Stoa-Snapshot-Wanted`, as a synced
  gateway fetches after the long poll: the control plane serves what it built, so this
  is transfer only, gzip and plain;
- decode and compile: the gateway supervisor's check before it accepts the snapshot;
- disk copy: writing it (fsync included);
- worker reload: what each gateway worker does on SIGHUP (read and verify the copy,
  decode, compile).
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

import httpx
import uvicorn

from bench.processes import free_port
from bench.snapshot_seed import add_size_arguments, scratch_database, seed, size_of
from stoa.contract import sync
from stoa.contract.snapshot import decode_snapshot
from stoa.controlplane.app import create_app
from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.snapshot.service import publish
from stoa.gateway.snapshot.compiled import compile_snapshot
from stoa.gateway.snapshot.disk_copy import read_copy, write_copy
from stoa.kit.crypto import SecretBox
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.settings import Settings

# Steps on the way of a change from the database to a worker's memory, for the total.
CHANGE_PATH = (
    "build (publish)",
    "fetch announced, gzip",
    "decode",
    "compile",
    "write disk copy",
    "worker reload",
)


@contextmanager
def timed(label: str, results: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    results[label] = time.perf_counter() - started
    print(f"  {label:<32} {results[label]:8.2f} s", flush=True)


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


@contextmanager
def control_plane(settings: Settings) -> Iterator[str]:
    """A control plane on loopback in a thread of this process; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _fetch(url: str, token: str, *, wanted: str | None, encoding: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}", "accept-encoding": encoding}
    if wanted:
        headers[sync.WANTED_HEADER] = wanted
    response = httpx.get(url + "/v1/snapshot", headers=headers, timeout=600)
    response.raise_for_status()
    return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser, apis=10_000, keys=200_000)
    args = parser.parse_args()
    size = size_of(args)
    with (
        tempfile.TemporaryDirectory(prefix="stoa-bench-snapshot-") as scratch,
        scratch_database(args.database_url) as database_url,
    ):
        settings = Settings(data_dir=Path(scratch), database_url=database_url)
        results: dict[str, float] = {}
        print(
            f"snapshot of {size.describe()} on {settings.resolved_database_url.split(':')[0]}",
            flush=True,
        )
        with timed("seed (not part of sync)", results):
            token = asyncio.run(seed(settings, size))
        with timed("build (publish)", results):
            body = asyncio.run(_build(settings))
        with control_plane(settings) as url:
            with timed("fetch built afresh, gzip", results):
                first = _fetch(url, token, wanted=None, encoding="gzip")
            digest = first.headers[sync.HASH_HEADER]
            with timed("fetch announced, gzip", results):
                fetched = _fetch(url, token, wanted=digest, encoding="gzip").content
            with timed("fetch announced, plain", results):
                _fetch(url, token, wanted=digest, encoding="identity")
        with timed("decode", results):
            snapshot = decode_snapshot(fetched)
        with timed("compile", results):
            compile_snapshot(snapshot, digest)  # as the supervisor checks it
        copy = Path(scratch) / "synced-snapshot"
        with timed("write disk copy", results):
            write_copy(copy, fetched, digest)
        with timed("worker reload", results):
            verified = read_copy(copy)
            compile_snapshot(verified.snapshot, verified.hash)
        print(f"  size {len(body) / 1e6:.1f} MB, gzip {len(gzip.compress(body, 1)) / 1e6:.1f} MB")
        total = sum(results[step] for step in CHANGE_PATH)
        print(
            f"  a change, database to worker (build, transfer, check, copy, reload): {total:.2f} s"
        )


if __name__ == "__main__":
    main()
