"""The gateway beside the control plane in `stoa up`: one worker in the same event loop,
serving a snapshot built directly from the database."""

from __future__ import annotations

import os
from pathlib import Path

from stoa.contract.snapshot import decode_snapshot, encode_snapshot
from stoa.controlplane.db import create_engine, create_sessionmaker
from stoa.controlplane.snapshot.service import build_snapshot
from stoa.gateway.worker import Worker, start_worker
from stoa.kit.crypto import SecretBox
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.settings import Settings

SNAPSHOT_FILE = "gateway-snapshot.json"


async def current_snapshot_bytes(settings: Settings) -> bytes:
    """The snapshot the control plane would serve at `/v1/snapshot`, encoded."""
    secrets = load_platform_secrets(settings)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            snapshot = await build_snapshot(
                session, SecretBox(secrets.master_key), secrets.key_hash_secret
            )
    finally:
        await engine.dispose()
    return encode_snapshot(snapshot)


def _write_private(path: Path, data: bytes) -> None:
    # The snapshot holds upstream credentials and the key hash secret: owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


async def start_embedded_gateway(settings: Settings, host: str, port: int) -> Worker:
    """Build the snapshot, keep a copy in the data dir (what `stoa gateway --snapshot`
    can serve), and start a gateway worker in the running loop."""
    data = await current_snapshot_bytes(settings)
    _write_private(settings.data_dir / SNAPSHOT_FILE, data)
    return await start_worker(settings, decode_snapshot(data), host=host, port=port)
