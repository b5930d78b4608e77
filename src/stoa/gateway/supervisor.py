"""`stoa gateway`: N worker processes sharing one port with SO_REUSEPORT.

The parent loads and checks the snapshot first (a bad snapshot or an unreachable control
plane fails the start with a clear message), then forks the workers, which inherit it.
SIGHUP is forwarded to every worker, which reloads from the same source; SIGTERM/SIGINT
stop them. A worker that dies is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from stoa.contract.snapshot import Snapshot, SnapshotError
from stoa.gateway.snapshot.compiled import compile_snapshot
from stoa.gateway.snapshot.load import SnapshotSource, SnapshotUnavailable, load_snapshot
from stoa.gateway.worker import start_worker
from stoa.kit.settings import Settings

_log = logging.getLogger("stoa.gateway")


def serve(
    settings: Settings,
    source: SnapshotSource,
    *,
    host: str,
    port: int,
    workers: int,
    multiprocess_dir: str | None,
    announce: Callable[[str], None] = print,
) -> int:
    """Run until SIGTERM/SIGINT; the process exit status."""
    try:
        snapshot = load_snapshot(source)
        compile_snapshot(snapshot)
    except (SnapshotUnavailable, SnapshotError) as exc:
        announce(f"stoa gateway: no snapshot to serve: {exc}")
        return 1
    announce(
        f"stoa gateway on http://{host}:{port} with {workers} worker(s), "
        f"snapshot from {source.describe()}"
    )
    if workers == 1:
        _run_worker(settings, snapshot, source, host, port, False, multiprocess_dir)
        return 0
    return _supervise(settings, snapshot, source, host, port, workers, multiprocess_dir)


def _supervise(
    settings: Settings,
    snapshot: Snapshot,
    source: SnapshotSource,
    host: str,
    port: int,
    workers: int,
    multiprocess_dir: str | None,
) -> int:
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                _run_worker(settings, snapshot, source, host, port, True, multiprocess_dir)
            except BaseException:
                _log.exception("gateway worker failed")
                status = 1
            finally:
                os._exit(status)
        children[pid] = slot

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for slot in range(workers):
        spawn(slot)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while children:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, -1)
        if multiprocess_dir is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid, multiprocess_dir)  # type: ignore[no-untyped-call]
        if slot >= 0 and not stopping:
            _log.warning("gateway worker %d exited; starting another", pid)
            time.sleep(0.5)
            spawn(slot)
    return 0


def _run_worker(
    settings: Settings,
    snapshot: Snapshot,
    source: SnapshotSource,
    host: str,
    port: int,
    reuse_port: bool,
    multiprocess_dir: str | None,
) -> None:
    import uvloop

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    uvloop.run(_worker_main(settings, snapshot, source, host, port, reuse_port, multiprocess_dir))


async def _worker_main(
    settings: Settings,
    snapshot: Snapshot,
    source: SnapshotSource,
    host: str,
    port: int,
    reuse_port: bool,
    multiprocess_dir: str | None,
) -> None:
    worker = await start_worker(
        settings,
        snapshot,
        host=host,
        port=port,
        reuse_port=reuse_port,
        multiprocess_dir=multiprocess_dir,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def reload() -> None:
        try:
            fresh = await loop.run_in_executor(None, load_snapshot, source)
            worker.install(fresh)
        except (SnapshotUnavailable, SnapshotError) as exc:
            _log.warning("snapshot reload failed, still serving the previous one: %s", exc)
            return
        current = worker.context.holder.current
        _log.info("snapshot reloaded: %s", current.hash if current else "?")

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))
    try:
        await stop.wait()
    finally:
        await worker.close()
        sys.stdout.flush()
