"""One measurement: load a server with wrk and charge it the CPU its process tree spent."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import (
    children_cpu_seconds,
    cpu_seconds,
    cpu_times,
    machine_busy_seconds,
    process_tree,
)
from bench.wrk import LoadSpec, run_wrk


@dataclass(frozen=True, slots=True)
class Target:
    label: str
    pid: int  # the server's main process; its whole tree is charged
    url: str
    script: Path


@dataclass(frozen=True, slots=True)
class Measurement:
    label: str
    requests: int
    seconds: float
    cpu_seconds: float
    system_seconds: float  # the kernel's part of cpu_seconds: system calls, TCP, wake-ups
    socket_errors: int
    bad_status: int
    p50_ms: float
    p99_ms: float
    # CPU seconds the machine spent on processes outside the benchmark during the run:
    # other people's work on a shared machine, which the figures cannot be trusted under.
    others_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds * 1e6 / self.requests if self.requests else float("inf")

    @property
    def system_us_per_request(self) -> float:
        return self.system_seconds * 1e6 / self.requests if self.requests else float("inf")

    @property
    def cores_busy(self) -> float:
        """Average cores the server kept busy: about 1.0 means one worker was saturated."""
        return self.cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def others_cores(self) -> float:
        return self.others_cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def clean(self) -> bool:
        return self.requests > 0 and self.socket_errors == 0 and self.bad_status == 0


def measure(
    target: Target, load: LoadSpec, warmup_seconds: float, harness: Sequence[int]
) -> Measurement:
    """Warm `target` up, then load it for `load.seconds` and read its CPU before and after.

    `harness` lists the main process of every server the benchmark started (the target's
    included), so that CPU used by anything else on the machine can be told apart.
    """
    if warmup_seconds > 0:
        run_wrk(target.url, target.script, load, seconds=warmup_seconds)
    # Read the trees after the warm-up: workers forked lazily exist by now.
    pids = process_tree(target.pid)
    ours = [pid for root in harness for pid in process_tree(root)]
    (user_before, system_before), ours_before = cpu_times(pids), cpu_seconds(ours)
    machine_before, wrk_before = machine_busy_seconds(), children_cpu_seconds()
    started = time.monotonic()
    result = run_wrk(target.url, target.script, load)
    elapsed = time.monotonic() - started
    user_after, system_after = cpu_times(pids)
    system = system_after - system_before
    spent = user_after - user_before + system
    ours_spent = cpu_seconds(ours) - ours_before + children_cpu_seconds() - wrk_before
    others = max(0.0, machine_busy_seconds() - machine_before - ours_spent)
    return Measurement(
        label=target.label,
        requests=result.requests,
        # wrk's own clock covers the load; ours adds its start and exit, when the
        # server is idle, so the busy figure uses wrk's.
        seconds=result.seconds or elapsed,
        cpu_seconds=spent,
        system_seconds=system,
        socket_errors=result.socket_errors,
        bad_status=result.bad_status,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        others_cpu_seconds=others,
    )
