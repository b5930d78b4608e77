"""`stoa gateway`: N worker processes sharing one port with SO_REUSEPORT.

From a snapshot file: the parent loads and checks the snapshot first (a bad one fails the
start with a clear message), then forks the workers, which inherit it. SIGHUP is
forwarded to every worker, which reloads the file.

From the control plane: the parent runs the config sync (`snapshot/sync.py`) in a thread.
It starts from the control plane's snapshot, else from the disk copy, else not ready
(the log says why); a refused token stops the start. Each new snapshot is compiled in the
parent, written to the disk copy, and the workers are sent SIGHUP to load that copy, so
every worker swaps to the same checked snapshot; when the copy cannot be written, the
workers are replaced one at a time instead, and start from the parent's memory. SIGHUP
to the parent fetches at once.

SIGTERM/SIGINT stop the workers. A worker that dies is restarted with the newest snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from stoa.contract.snapshot import Snapshot, SnapshotError
from stoa.gateway.snapshot.compiled import compile_snapshot
from stoa.gateway.snapshot.disk_copy import CopyUnusable, copy_hash, copy_path, read_copy
from stoa.gateway.snapshot.load import SnapshotSource, SnapshotUnavailable, load_snapshot
from stoa.gateway.snapshot.sync import ConfigSync, GatewayIdentity, TokenRefused
from stoa.gateway.worker import start_worker
from stoa.kit.secret_file import private_dir
from stoa.kit.settings import Settings

_log = logging.getLogger("stoa.gateway")

# Given the hash a worker serves, the snapshot to serve instead with its content hash if
# already verified, or None if unchanged.
Reload = Callable[[str | None], tuple[Snapshot, str | None] | None]
INSTANCE_FILE = "gateway-id"


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
    problem = cannot_listen(host, port)
    if problem is not None:
        announce(f"stoa gateway: cannot listen on {host}:{port}: {problem}")
        return 1
    if source.file is None:
        return _serve_synced(
            settings,
            source,
            host=host,
            port=port,
            workers=workers,
            multiprocess_dir=multiprocess_dir,
            announce=announce,
        )
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
    reload: Reload = lambda _serving: (load_snapshot(source), None)  # noqa: E731
    if workers == 1:
        _run_worker(settings, snapshot, reload, host, port, False, multiprocess_dir)
        return 0
    return _supervise(settings, snapshot, reload, host, port, workers, multiprocess_dir, None)


def cannot_listen(host: str, port: int) -> str | None:
    """Why the workers could not bind `host:port`, or None. Checked once up front: a
    worker that cannot bind would die, be restarted, and die again until stopped."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The options the workers' listening sockets have (asyncio sets SO_REUSEADDR).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _instance_id(data_dir: Path) -> str:
    """This gateway's id in the fleet, kept in the data dir so a restart is the same
    gateway. Created race-free on first start."""
    path = data_dir / INSTANCE_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = "gwi_" + os.urandom(12).hex()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def _stoa_version() -> str:
    try:
        return version("stoa")
    except PackageNotFoundError:
        return "unknown"


def _serve_synced(
    settings: Settings,
    source: SnapshotSource,
    *,
    host: str,
    port: int,
    workers: int,
    multiprocess_dir: str | None,
    announce: Callable[[str], None],
) -> int:
    if not source.control_plane_url:
        announce("stoa gateway: no snapshot file and no control plane URL")
        return 1
    data_dir = private_dir(settings.data_dir)
    identity = GatewayIdentity(
        instance_id=_instance_id(data_dir),
        name=settings.gateway.name or socket.gethostname(),
        version=_stoa_version(),
        address=settings.gateway_public_url.rstrip("/"),
    )
    syncer = ConfigSync(
        control_plane_url=source.control_plane_url,
        token=source.token,
        identity=identity,
        copy_file=copy_path(data_dir),
        wait_seconds=settings.gateway.sync_wait_seconds,
        backoff_max_seconds=settings.gateway.sync_backoff_max_seconds,
    )
    try:
        snapshot = syncer.initial()
    except TokenRefused as exc:
        announce(f"stoa gateway: no snapshot to serve: {exc}")
        return 1
    state = "serving " + (syncer.served_hash or "") if snapshot else "NOT READY"
    announce(
        f"stoa gateway on http://{host}:{port} with {workers} worker(s), "
        f"config from {source.describe()} ({state})"
    )
    if snapshot is None:
        announce(f"stoa gateway: not ready: {syncer.not_ready_reason}")

    def reload(serving: str | None) -> tuple[Snapshot, str | None] | None:
        # A worker's catch-up at start usually finds the copy it began with: one header
        # line read instead of decoding and compiling the whole snapshot again.
        if serving is not None and copy_hash(syncer.copy_file) == serving:
            return None
        try:
            copy = read_copy(syncer.copy_file)  # checks the content hash
        except CopyUnusable as exc:
            raise SnapshotUnavailable(str(exc)) from exc
        return copy.snapshot, copy.hash

    return _supervise(settings, snapshot, reload, host, port, workers, multiprocess_dir, syncer)


def _supervise(
    settings: Settings,
    snapshot: Snapshot | None,
    reload: Reload,
    host: str,
    port: int,
    workers: int,
    multiprocess_dir: str | None,
    syncer: ConfigSync | None,
) -> int:
    children: dict[int, int] = {}  # pid -> slot
    stopping = False
    newest = [snapshot]  # what a (re)started worker begins with
    stop_sync = threading.Event()

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                _run_worker(
                    settings,
                    newest[0],
                    reload,
                    host,
                    port,
                    True,
                    multiprocess_dir,
                    catch_up=syncer is not None,
                    waiting_reason=syncer.not_ready_reason if syncer is not None else None,
                )
            except BaseException:
                _log.exception("gateway worker failed")
                status = 1
            finally:
                os._exit(status)
        children[pid] = slot

    def swapped(fresh: Snapshot, digest: str) -> None:
        newest[0] = fresh
        if syncer is not None and copy_hash(syncer.copy_file) != digest:
            replace_workers(digest)
            return
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    def replace_workers(digest: str) -> None:
        # Workers load a new snapshot from the disk copy. When it could not be written,
        # a SIGHUP would leave them on the old one (revoked keys still let in), so they
        # are replaced one at a time instead: a new worker starts from `newest`, in this
        # process's memory, while the others keep serving.
        _log.error("the disk copy does not hold snapshot %s: replacing the workers", digest)
        for pid, slot in list(children.items()):
            if stopping:
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while not stopping and time.monotonic() < deadline:
                if any(s == slot for p, s in list(children.items()) if p != pid):
                    break
                time.sleep(0.05)

    def refresh_now() -> None:
        assert syncer is not None
        try:
            syncer.refresh()
        except Exception as exc:  # logged, like any failed sync; the loop goes on
            _log.warning("snapshot refresh on SIGHUP failed: %s", exc)

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum == signal.SIGHUP and syncer is not None:
            threading.Thread(target=refresh_now, daemon=True).start()
            return
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            stop_sync.set()
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for slot in range(workers):
        spawn(slot)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    if syncer is not None:
        # Started after the first fork, so no worker is forked while this thread holds
        # a lock; a restarted worker is forked later, but only touches its own state.
        syncer.on_swap = swapped
        threading.Thread(target=syncer.run, args=(stop_sync,), daemon=True).start()
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
    stop_sync.set()
    return 0


def _run_worker(
    settings: Settings,
    snapshot: Snapshot | None,
    reload: Reload,
    host: str,
    port: int,
    reuse_port: bool,
    multiprocess_dir: str | None,
    catch_up: bool = False,
    waiting_reason: str | None = None,
) -> None:
    import uvloop

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    # Until the loop's handler is installed a SIGHUP must not kill the worker (its default
    # action); `catch_up` then reloads once, in case one came in between.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    uvloop.run(
        _worker_main(
            settings,
            snapshot,
            reload,
            host,
            port,
            reuse_port,
            multiprocess_dir,
            catch_up,
            waiting_reason,
        )
    )


async def _worker_main(
    settings: Settings,
    snapshot: Snapshot | None,
    reload_snapshot: Reload,
    host: str,
    port: int,
    reuse_port: bool,
    multiprocess_dir: str | None,
    catch_up: bool,
    waiting_reason: str | None,
) -> None:
    worker = await start_worker(
        settings,
        snapshot,
        host=host,
        port=port,
        reuse_port=reuse_port,
        multiprocess_dir=multiprocess_dir,
    )
    if waiting_reason is not None:
        worker.context.holder.waiting_reason = waiting_reason
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def reload() -> None:
        try:
            serving = worker.context.holder.current
            fresh = await loop.run_in_executor(
                None, reload_snapshot, serving.hash if serving is not None else None
            )
            if fresh is None:
                return
            worker.install(*fresh)
        except (SnapshotUnavailable, SnapshotError) as exc:
            _log.warning("snapshot reload failed, still serving the previous one: %s", exc)
            return
        current = worker.context.holder.current
        _log.info("snapshot reloaded: %s", current.hash if current else "?")

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(reload()))
    if catch_up:
        await reload()
    try:
        await stop.wait()
    finally:
        await worker.close()
        sys.stdout.flush()
