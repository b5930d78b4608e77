"""CPU per proxied `/proxy` request inside one gateway worker, without the client's socket.

    python -m bench.proxy_inprocess [--calls 20000] [--route limited|open] [--profile]

Starts the 1 KB nginx upstream, builds a worker's handler as `stoa gateway` does, and
feeds requests (as wrk sends them) straight into an `HttpConnection` whose transport is
an in-memory stand-in, one request at a time; the upstream leg is real (the worker's
keep-alive pool over loopback). CPU is this process's `time.process_time()` over the
loop, so it counts the handler, the relay and the upstream socket, not the client's
socket or the load generator: a repeatable figure on a busy machine, where wrk's
throughput is not. `--profile` prints the cProfile top functions instead. Prints, never
asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import uvloop

from bench import nginx
from bench.processes import free_port
from bench.snapshot import LIMITED_API, OPEN_API, TENANT, write_snapshot
from stoa.contract.snapshot import decode_snapshot
from stoa.gateway import ratelimit
from stoa.gateway.context import GatewayContext
from stoa.gateway.handler import GatewayHandler
from stoa.gateway.http.server import HttpConnection
from stoa.gateway.proxy.breaker import Breakers
from stoa.gateway.proxy.pool import UpstreamPool
from stoa.gateway.snapshot.holder import SnapshotHolder
from stoa.gateway.telemetry.access_log import AccessLog
from stoa.kit.settings import Settings


class _Transport:
    """The client side of the connection: collects what the server writes, and wakes
    the driver when a whole 1 KB response is out."""

    def __init__(self) -> None:
        self.waiter: asyncio.Future[None] | None = None
        self.received = 0
        self.expected = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def write(self, data: bytes) -> None:
        self.received += len(data)
        if self.received >= self.expected and self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            waiter.set_result(None)

    def close(self) -> None:
        raise SystemExit("the gateway closed the client connection")

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _drive(
    upstream_port: int, route: str, calls: int, profile: bool, devnull: IO[bytes]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        written = write_snapshot(
            Path(scratch), f"http://127.0.0.1:{upstream_port}", "http://127.0.0.1:9/mcp"
        )
        snapshot = decode_snapshot(written.path.read_bytes())
    settings = Settings()
    holder = SnapshotHolder()
    holder.install(snapshot)
    pool = UpstreamPool(connect_timeout=2.0, breakers=Breakers(5, 10.0))
    ratelimit.configure(ratelimit.Limiter(None))
    handler = GatewayHandler(
        GatewayContext(settings=settings, holder=holder, upstreams=pool),
        bearer=None,
        # The bench gateway's stdout goes to a file; /dev/null costs the same write calls.
        access_log=AccessLog(settings.gateway.access_log, devnull),
        metrics_source=lambda: b"",
    )
    connection = HttpConnection(handler)
    transport = _Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    api = LIMITED_API if route == "limited" else OPEN_API
    request = (
        f"GET /proxy/{TENANT}/{api}/item HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        f"Authorization: Bearer {written.api_key}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()

    async def one() -> None:
        transport.waiter = loop.create_future()
        transport.expected = transport.received + nginx.BODY_BYTES + 100
        waiter = transport.waiter
        connection.data_received(request)
        await waiter

    await one()
    if transport.received < nginx.BODY_BYTES:
        raise SystemExit("no 1 KB answer")
    for _ in range(calls // 10):
        await one()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    collections = sum(generation["collections"] for generation in gc.get_stats())
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(calls):
        await one()
    after = resource.getrusage(resource.RUSAGE_SELF)
    collections = sum(generation["collections"] for generation in gc.get_stats()) - collections
    user = (after.ru_utime - before.ru_utime) / calls * 1e6
    system = (after.ru_stime - before.ru_stime) / calls * 1e6
    if profiler is not None:
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "tottime"))
        stats.print_stats(int(os.environ.get("TOP", "35")))
    pool.close()
    print(
        f"/proxy/{TENANT}/{api} in process: {user + system:6.1f} µs CPU per request "
        f"({user:.1f} user, {system:.1f} system; {collections} gc runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--route", choices=["limited", "open"], default="limited")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    with tempfile.TemporaryDirectory() as run:
        config = nginx.upstream_config(Path(run), port)
        (Path(run) / "upstream-tmp").mkdir(exist_ok=True)
        upstream = subprocess.Popen(nginx.argv(binary, config))
        try:
            time.sleep(0.5)
            with open(os.devnull, "wb") as devnull:
                uvloop.run(_drive(port, args.route, args.calls, args.profile, devnull))
        finally:
            upstream.terminate()
            upstream.wait()


if __name__ == "__main__":
    main()
