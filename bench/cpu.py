"""CPU time of process trees, read from /proc: what a server spent, whatever it forked.

`/proc/<pid>/stat` fields 14 and 15 (utime, stime) count every thread of the process, in
clock ticks. Summing them over a server's whole tree before and after a load run gives its
CPU cost, independent of how the scheduler spread it over cores.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterable
from pathlib import Path

_PROC = Path("/proc")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """`root` and all its living descendants."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, ()))
    return tree


def cpu_times(pids: Iterable[int]) -> tuple[float, float]:
    """(user, system) CPU seconds consumed so far by these processes (vanished ones: 0)."""
    user = system = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            # After the name: state is index 0, so utime (field 14) is index 11.
            user += int(fields[11])
            system += int(fields[12])
    return user / _TICKS_PER_SECOND, system / _TICKS_PER_SECOND


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds consumed so far by these processes."""
    return sum(cpu_times(pids))


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent on anything but idling, since boot (from /proc/stat)."""
    fields = (_PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    ticks = [int(value) for value in fields[:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS_PER_SECOND


def children_cpu_seconds() -> float:
    """CPU seconds of this process's reaped children (wrk, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pin_tree(root: int, cpus: frozenset[int]) -> None:
    """Move every thread of `root`'s tree onto `cpus` (threads have their own affinity)."""
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            for task in (_PROC / str(pid) / "task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), cpus)
