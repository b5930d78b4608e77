"""A fleet of two synced gateways (Redis-shared limits, usage shipped with gateway tokens)
under steady load while its control plane is away for a minute: no call fails, a gateway
restarted meanwhile comes back from its disk copy, and once the control plane returns it
has counted exactly the calls that succeeded."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from synced_gateways import Gateways, eventually, gateway_token, seed, served_hash

from conftest import Upstreams
from support import redis_server
from support.control_plane import control_plane_on
from support.databases import Backend
from support.servers import free_port
from support.usage_counts import counted, spooled_events
from support.world import World

OUTAGE_SECONDS = 60.0


class Load:
    """Steady calls with one key, spread round-robin over `targets` by a few threads,
    bounded in number and time. `ok` counts 2xx answers by target; `failures` holds
    every other answer or transport error. A target taken out with `withdraw` gets no new
    call (a gateway about to stop is not sent calls that could not succeed)."""

    def __init__(
        self,
        key: str,
        path: str,
        targets: list[str],
        *,
        threads: int = 4,
        pause: float = 0.05,
        max_calls: int = 30_000,
        max_seconds: float = OUTAGE_SECONDS + 180,
    ) -> None:
        self._key, self._path, self._pause = key, path, pause
        self._targets = list(targets)
        self._max_calls = max_calls
        self._end = time.monotonic() + max_seconds
        self._lock = threading.Lock()
        self._in_flight: Counter[str] = Counter()
        self._calls = 0
        self._stop = threading.Event()
        self.ok: Counter[str] = Counter()
        self.failures: list[str] = []
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def succeeded(self) -> int:
        with self._lock:
            return sum(self.ok.values())

    def withdraw(self, target: str) -> None:
        """No new calls to `target`; returns when its calls in flight are answered."""
        with self._lock:
            self._targets.remove(target)
        eventually(lambda: self._in_flight[target] == 0, f"calls in flight to {target} end")

    def add(self, target: str) -> None:
        with self._lock:
            self._targets.append(target)

    def _next(self) -> str | None:
        with self._lock:
            if self._calls >= self._max_calls or time.monotonic() > self._end:
                return None
            target = self._targets[self._calls % len(self._targets)]
            self._calls += 1
            self._in_flight[target] += 1
            return target

    def _run(self) -> None:
        with httpx.Client(headers={"x-api-key": self._key}, timeout=10) as client:
            while not self._stop.is_set():
                target = self._next()
                if target is None:
                    return
                try:
                    outcome = str(client.get(target + self._path).status_code)
                except httpx.TransportError as exc:
                    outcome = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self._in_flight[target] -= 1
                    if outcome.startswith("2"):
                        self.ok[target] += 1
                    else:
                        self.failures.append(f"{target}: {outcome}")
                self._stop.wait(self._pause)


@pytest.mark.timeout(OUTAGE_SECONDS + 240)
def test_a_minute_without_control_plane_under_load_fails_no_call_and_loses_no_usage(
    backend: Backend, world: World, upstreams: Upstreams, gateways: Gateways, tmp_path: Path
) -> None:
    # A limit the load never reaches, so that every call goes through Redis.
    setup = seed(world, upstreams.echo.url, per_minute=1_000_000)
    port = free_port()
    control_plane_url = f"http://127.0.0.1:{port}"
    control_plane = control_plane_on(backend, port)
    redis_port = free_port()
    redis = redis_server.redis_server(redis_port, tmp_path)
    env = {
        "STOA_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "STOA_GATEWAY__REDIS_TIMEOUT_SECONDS": "5",
        "STOA_GATEWAY__USAGE__FLUSH_SECONDS": "0.5",
        # Short long polls, so that stopping the control plane does not wait on them.
        "STOA_GATEWAY__SYNC_WAIT_SECONDS": "2",
    }
    tokens = [gateway_token(setup.admin, f"edge-{n}")["secret"] for n in range(2)]
    data = [tmp_path / f"gw{n}" for n in range(2)]
    first, second = (
        gateways.start(token, data_dir=data_dir, control_plane_url=control_plane_url, env=env)
        for token, data_dir in zip(tokens, data, strict=True)
    )
    try:
        load = Load(setup.key, setup.url, [first.url, second.url]).start()
        try:
            eventually(
                lambda: load.ok[first.url] >= 20 and load.ok[second.url] >= 20,
                "both gateways serve the load",
            )
            control_plane.stop()
            back_at = time.monotonic() + OUTAGE_SECONDS
            first_before = load.ok[first.url]

            time.sleep(OUTAGE_SECONDS / 4)
            snapshot = served_hash(second)
            load.withdraw(second.url)
            second.stop()
            assert spooled_events(data[1]) > 0  # its unsent usage waits for the next start
            restarted = gateways.start(
                tokens[1], data_dir=data[1], control_plane_url=control_plane_url, env=env
            )
            assert served_hash(restarted) == snapshot
            load.add(restarted.url)

            time.sleep(max(0.0, back_at - time.monotonic()))
            assert load.ok[first.url] > first_before
            assert load.ok[restarted.url] > 0
            control_plane = control_plane_on(backend, port)
            time.sleep(2)  # some load with the control plane back
        finally:
            load.stop()
        assert load.failures == []
        succeeded = load.succeeded()

        def all_delivered() -> bool:
            spooled = sum(spooled_events(data_dir) for data_dir in data)
            return spooled == 0 and sum(counted(setup.admin).values()) >= succeeded

        eventually(all_delivered, "the spools empty into the control plane", deadline=60)
        time.sleep(2)  # a few flush intervals: anything counted twice would show now
        assert sum(counted(setup.admin).values()) == succeeded
        assert "serving the disk copy" in restarted.stop()
    finally:
        control_plane.stop()
        redis_server.stop(redis)
