"""The gateway beside the control plane in `stoa up`: a real `stoa gateway` process,
synced from the control plane with a gateway token like any gateway of a fleet. So the
demo's gateway takes every change made in the console or the API within about a second,
and ships its usage to the control plane (the data behind the usage charts)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
from anyio.abc import Process

from stoa.cli.local_admin import LOCAL_OPERATOR, transaction
from stoa.controlplane.gateway_fleet import service as fleet
from stoa.controlplane.gateway_fleet.schemas import GatewayTokenCreate
from stoa.kit.errors import Unauthenticated
from stoa.kit.platform_secrets import load_platform_secrets
from stoa.kit.secret_file import private_dir
from stoa.kit.settings import Settings

GATEWAY_DIR = "gateway"  # the gateway's own STOA_DATA_DIR: disk copy, usage spool, its id
TOKEN_FILE = "embedded-gateway-token"  # mode 0600, in the data dir that holds the master key
TOKEN_NAME = "stoa up"
START_SECONDS = 60.0
STOP_SECONDS = 15.0


class GatewayUnavailable(Exception):
    """The embedded gateway could not start; the message says why."""


async def embedded_gateway_token(settings: Settings) -> str:
    """The gateway token of `stoa up`'s gateway: the one kept in the data dir while the
    control plane still accepts it, else a new one (audited like any other)."""
    kept = settings.data_dir / TOKEN_FILE
    hash_secret = load_platform_secrets(settings).key_hash_secret
    if kept.exists():
        secret = kept.read_text().strip()
        async with transaction(settings) as session:
            try:
                await fleet.authenticate_token(session, hash_secret, secret, source_ip=None)
            except Unauthenticated:
                pass  # revoked (or the database was reset): make another
            else:
                return secret
    data = GatewayTokenCreate.model_validate({"name": TOKEN_NAME})
    async with transaction(settings) as session:
        issued = await fleet.create_token(session, LOCAL_OPERATOR, hash_secret, data)
    _write_private(kept, issued.secret)
    return issued.secret


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@dataclass
class EmbeddedGateway:
    process: Process
    url: str

    async def stop(self) -> None:
        """SIGTERM (the gateway then flushes its usage) and wait; SIGKILL if it hangs."""
        if self.process.returncode is None:
            self.process.terminate()
        with anyio.move_on_after(STOP_SECONDS):
            await self.process.wait()
            return
        self.process.kill()
        await self.process.wait()


async def start_embedded_gateway(
    settings: Settings, token: str, *, control_plane_url: str, host: str, port: int
) -> EmbeddedGateway:
    """Start `stoa gateway` on `host:port`, synced from `control_plane_url`, and wait
    until it is ready. `GatewayUnavailable` if it exits (its own message says why: a port
    in use, say) or does not get ready."""
    data_dir = private_dir(settings.data_dir / GATEWAY_DIR)
    # The gateway reads its settings from the same environment as `stoa up`, plus what
    # makes it a synced gateway of its own.
    env = {
        **os.environ,
        "STOA_CONTROL_PLANE_URL": control_plane_url,
        "STOA_GATEWAY_TOKEN": token,
        "STOA_DATA_DIR": str(data_dir),
        "STOA_GATEWAY__NAME": TOKEN_NAME,
    }
    command = [sys.executable, "-m", "stoa.cli.main", "gateway"]
    command += ["--host", host, "--port", str(port), "--workers", "1"]
    # Our own interpreter and module, and the gateway's output goes to our terminal.
    process = await anyio.open_process(command, env=env, stdout=None, stderr=None)
    gateway = EmbeddedGateway(process, f"http://{host}:{port}")
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise GatewayUnavailable(f"the gateway exited with status {process.returncode}")
            try:
                if (await client.get(gateway.url + "/readyz")).status_code == 200:
                    return gateway
            except httpx.TransportError:
                pass
            await anyio.sleep(0.1)
    await gateway.stop()
    raise GatewayUnavailable(f"the gateway was not ready within {START_SECONDS:.0f} s")
