"""Server processes of a benchmark run: each in its own process group, always stopped.

Every server is started in a new session, so Ctrl+C in the terminal reaches only the
harness (and wrk), and stopping a server means signalling its whole group: nginx's
workers and the gateway's worker processes go with their master. The kernel is also
asked to signal a direct child if the harness dies without running its cleanup.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

_PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A server did not come up; the message says which and shows the end of its log."""


def child_setup(cpus: frozenset[int] | None, priority: int) -> None:
    """Runs in a child between fork and exec, after `setsid`.

    The CPU set and priority are inherited by every process the server forks later (nginx
    and gateway workers), which setting them after start would miss. The scheduler shares
    CPU between sessions (autogroups) before it looks at nice values, so a priority is set
    on the new session's autogroup as well as on the process.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if cpus:
        os.sched_setaffinity(0, cpus)
    if priority:
        if not _set_fair_slice(-priority, _SHORT_SLICE_NS):
            os.setpriority(os.PRIO_PROCESS, 0, -priority)
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(-priority))


_SYS_SCHED_SETATTR = 314  # x86_64
_SHORT_SLICE_NS = 100_000


def _set_fair_slice(nice: int, slice_ns: int) -> bool:
    """Nice value and a short scheduler slice for this process (Linux 6.12+ EEVDF).

    Under load, a server that only wakes to answer would otherwise wait for another
    task's whole slice (about 3 ms) at every wake-up, and the run would measure that
    wait; a short slice lets it run first at each wake-up. Inherited by forked workers.
    """
    attr = struct.pack("IIQiIQQQII", 56, 0, 0, nice, 0, slice_ns, 0, 0, 0, 0)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.syscall(_SYS_SCHED_SETATTR, 0, ctypes.create_string_buffer(attr), 0)) == 0
    except (OSError, AttributeError):
        return False


class Processes:
    """Starts servers with their output in `log_dir/<name>.log`; `stop_all` ends them all."""

    def __init__(self, log_dir: Path, priority: int = 0) -> None:
        self.log_dir = log_dir
        self.priority = priority
        self._running: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cpus: frozenset[int] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=lambda: child_setup(cpus, self.priority),
            )
        except OSError:
            log.close()
            raise
        self._running.append((name, proc, log))
        return proc

    def pids(self) -> list[int]:
        """The main process of every running server."""
        return [proc.pid for _, proc, _ in self._running]

    def log_tail(self, name: str, lines: int = 12) -> str:
        path = self.log_dir / f"{name}.log"
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def wait_for_port(
        self, name: str, proc: subprocess.Popen[bytes], port: int, timeout: float = 20.0
    ) -> None:
        """Return once `127.0.0.1:port` accepts connections; raise `StartError` otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StartError(
                    f"{name} exited with code {proc.returncode}:\n{self.log_tail(name)}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.05)
        raise StartError(f"{name} did not listen on port {port} within {timeout:.0f} s")

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        for entry in list(self._running):
            if entry[1] is proc:
                self._stop_one(entry)
                self._running.remove(entry)

    def stop_all(self) -> None:
        """Stop every server, newest first: SIGTERM to the group, SIGKILL after 5 s."""
        while self._running:
            self._stop_one(self._running.pop())

    @staticmethod
    def _stop_one(entry: tuple[str, subprocess.Popen[bytes], IO[bytes]]) -> None:
        _, proc, log = entry
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; make sure no worker of its group lingers.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            break
        log.close()


def _raise_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def harness_run(keep: bool, priority: int = 0) -> Iterator[tuple[Processes, Path]]:
    """A run directory and a `Processes`; on leaving (normally, by an exception, Ctrl+C or
    SIGTERM/SIGHUP) every server is stopped and the directory removed unless `keep`."""
    run_dir = Path(tempfile.mkdtemp(prefix="stoa-bench-"))
    procs = Processes(run_dir, priority)
    previous = {
        sig: signal.signal(sig, _raise_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield procs, run_dir
    finally:
        procs.stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if keep:
            print(f"run directory and logs kept in {run_dir}", file=sys.stderr)
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
