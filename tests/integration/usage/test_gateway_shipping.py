"""A real `stoa gateway` ships usage to a real control plane on loopback: calls through
/proxy and /mcp are counted, an outage is bridged by the spool, SIGTERM and SIGKILL lose
what the documentation says and nothing more. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from stoa.demo.toolbox import create_toolbox_app
from stoa.demo.weather import create_weather_app
from support.control_plane import control_plane_on
from support.databases import Backend
from support.gateway_mcp import GatewayRun, api, snapshot, toolbox_tools, weather_tools, with_key
from support.servers import ServerThread, free_port
from support.usage_counts import counted, spooled_events
from support.world import Caller, World

N = 30  # calls per test


class Demo:
    def __init__(self) -> None:
        self.toolbox = ServerThread(create_toolbox_app(), ready_path="/").start()
        self.weather = ServerThread(create_weather_app(), ready_path="/openapi.yaml").start()
        self.snapshot, self.key = with_key(
            snapshot(
                [
                    api("a-weather", "weather", "rest", self.weather.url, weather_tools()),
                    api("a-toolbox", "toolbox", "mcp", self.toolbox.url + "/mcp", toolbox_tools()),
                ]
            )
        )

    def stop(self) -> None:
        self.toolbox.stop()
        self.weather.stop()


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    built = Demo()
    yield built
    built.stop()


StartGateway = Callable[..., GatewayRun]


@pytest.fixture
def admin(world: World) -> Caller:
    return world.platform_admin()


@pytest.fixture
def gateway_token(admin: Caller) -> str:
    created = admin.post("/v1/gateway-tokens", json={"name": "usage-test"})
    assert created.status_code == 201, created.text
    return str(created.json()["secret"])


@pytest.fixture
def gateway_data(tmp_path: Path) -> Path:
    """The gateways' `STOA_DATA_DIR` (where the spool lives), shared by restarts."""
    return tmp_path / "gateway-data"


@pytest.fixture
def start_gateway(
    demo: Demo, gateway_token: str, tmp_path: Path, gateway_data: Path
) -> Iterator[StartGateway]:
    """Starts `stoa gateway` on the demo snapshot, reporting usage to `control_plane`
    with a gateway token."""
    started: list[GatewayRun] = []

    def start(control_plane: str, *, workers: int = 1, **usage: str) -> GatewayRun:
        directory = tmp_path / f"run-{len(started)}"
        directory.mkdir()
        env = {
            "STOA_DATA_DIR": str(gateway_data),
            "STOA_CONTROL_PLANE_URL": control_plane,
            "STOA_GATEWAY_TOKEN": gateway_token,
            **{f"STOA_GATEWAY__USAGE__{name.upper()}": value for name, value in usage.items()},
        }
        gateway = GatewayRun(demo.snapshot, directory, workers=workers, env=env)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        if gateway.process.poll() is None:
            gateway.stop()


def proxy_calls(gateway: GatewayRun, key: str, count: int) -> int:
    """`count` weather calls through /proxy; how many succeeded."""
    ok = 0
    with httpx.Client(headers={"X-API-Key": key}, timeout=10) as client:
        for n in range(count):
            url = f"{gateway.url}/proxy/demo/weather/forecast?city=c{n}"
            ok += client.get(url).status_code == 200
    return ok


def mcp_calls(gateway: GatewayRun, key: str, count: int) -> int:
    """`count` toolbox__echo calls through /mcp (one legacy session); how many succeeded."""
    headers = {"X-API-Key": key, "Accept": "application/json, text/event-stream"}
    with httpx.Client(headers=headers, timeout=10) as client:
        opened = client.post(
            gateway.url + "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {}},
            },
        )
        assert opened.status_code == 200
        client.headers["Mcp-Session-Id"] = opened.headers["mcp-session-id"]
        ok = 0
        for n in range(count):
            answer = client.post(
                gateway.url + "/mcp",
                json={
                    "jsonrpc": "2.0",
                    "id": n + 1,
                    "method": "tools/call",
                    "params": {"name": "toolbox__echo", "arguments": {"text": f"t{n}"}},
                },
            )
            ok += answer.status_code == 200 and "result" in answer.json()
        return ok


def until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)


def delivered_when_back(
    backend: Backend,
    port: int,
    admin: Caller,
    gateway_data: Path,
    *,
    restart: StartGateway | None = None,
) -> int:
    """Bring the control plane back on `port` (and start a gateway again, if `restart`),
    wait for the spool to empty, and answer how many events the control plane counted."""
    returned = control_plane_on(backend, port)
    try:
        if restart is not None:
            restart(f"http://127.0.0.1:{port}")
        until(lambda: spooled_events(gateway_data) == 0, "the spool empties")
        return sum(counted(admin).values())
    finally:
        returned.stop()


def metric(gateway: GatewayRun, name: str) -> float:
    text = httpx.get(gateway.url + "/metrics").text
    found = re.findall(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", text, re.MULTILINE)
    return sum(float(value) for value in found)


def test_calls_through_proxy_and_mcp_are_counted_by_the_control_plane(
    world: World, admin: Caller, demo: Demo, start_gateway: StartGateway
) -> None:
    gateway = start_gateway(world.base_url, workers=2)
    assert proxy_calls(gateway, demo.key, N) == N
    assert mcp_calls(gateway, demo.key, 5) == 5
    until(
        lambda: counted(admin) == {"a-weather": N, "a-toolbox": 5},
        "the control plane counts every call",
    )
    tools = admin.get("/v1/usage", params={"granularity": "day", "api": "a-toolbox"}).json()
    assert [(row["tool"], row["count"]) for row in tools["items"]] == [("echo", 5)]
    assert tools["total"]["latency_ms"]["p50"] is not None
    assert tools["total"]["response_bytes"] > 0


def test_usage_made_while_the_control_plane_is_down_is_counted_exactly_once_when_it_returns(
    backend: Backend,
    admin: Caller,
    demo: Demo,
    start_gateway: StartGateway,
    gateway_data: Path,
) -> None:
    port = free_port()
    gateway = start_gateway(f"http://127.0.0.1:{port}", workers=2, flush_seconds="0.2")
    succeeded = proxy_calls(gateway, demo.key, N) + mcp_calls(gateway, demo.key, 5)
    until(lambda: spooled_events(gateway_data) == succeeded, "every call waits in the spool")
    assert counted(admin) == {}
    assert delivered_when_back(backend, port, admin, gateway_data) == succeeded == N + 5
    assert metric(gateway, "stoa_gateway_usage_shipped_events_total") == succeeded


def test_sigterm_puts_every_buffered_event_in_the_spool_and_a_restart_delivers_it(
    backend: Backend,
    admin: Caller,
    demo: Demo,
    start_gateway: StartGateway,
    gateway_data: Path,
) -> None:
    port = free_port()
    # A flush interval longer than the test: only the shutdown can move events out.
    gateway = start_gateway(f"http://127.0.0.1:{port}", flush_seconds="60")
    succeeded = proxy_calls(gateway, demo.key, N)
    assert spooled_events(gateway_data) == 0
    gateway.stop()
    assert gateway.process.returncode == 0
    assert spooled_events(gateway_data) == succeeded == N

    assert delivered_when_back(backend, port, admin, gateway_data, restart=start_gateway) == N


def test_sigkill_loses_nothing_that_was_flushed(
    backend: Backend,
    admin: Caller,
    demo: Demo,
    start_gateway: StartGateway,
    gateway_data: Path,
) -> None:
    port = free_port()
    gateway = start_gateway(f"http://127.0.0.1:{port}", flush_seconds="0.2")
    succeeded = proxy_calls(gateway, demo.key, N)
    until(lambda: spooled_events(gateway_data) == succeeded, "every call reaches the spool")
    gateway.process.kill()
    gateway.process.communicate()

    delivered = delivered_when_back(backend, port, admin, gateway_data, restart=start_gateway)
    assert delivered == succeeded


def test_a_full_spool_drops_new_batches_counts_them_and_keeps_the_queued_ones(
    backend: Backend,
    admin: Caller,
    demo: Demo,
    start_gateway: StartGateway,
    gateway_data: Path,
) -> None:
    port = free_port()
    gateway = start_gateway(f"http://127.0.0.1:{port}", flush_seconds="0.2", spool_max_bytes="4096")
    lost = "stoa_gateway_usage_lost_events_total"
    succeeded = 0
    # Small rounds, each flushed before the next, so that every batch is small enough to
    # fit an empty spool and the spool fills up batch by batch.
    for _ in range(10):
        succeeded += proxy_calls(gateway, demo.key, 5)
        until(
            lambda total=succeeded: metric(gateway, lost) + spooled_events(gateway_data) == total,
            "every call is either spooled or counted as lost",
        )
    dropped = metric(gateway, lost)
    assert 0 < dropped < succeeded
    assert sum(path.stat().st_size for path in gateway_data.glob("usage-spool/*/*.seg")) <= 4096

    assert delivered_when_back(backend, port, admin, gateway_data) == succeeded - dropped
    assert metric(gateway, lost) == dropped
