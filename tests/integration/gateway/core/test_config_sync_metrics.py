"""A synced gateway's `/metrics` says whether config sync works: the supervisor's sync
figures reach the scrape of any worker, with one worker as with several."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_world import GatewayProcess
from prometheus_client.parser import text_string_to_metric_families

from support.servers import free_port
from support.world import World


def _samples(gateway: GatewayProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(gateway.url + "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _sample(gateway: GatewayProcess, name: str, **labels: str) -> float | None:
    return _samples(gateway).get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def started() -> Iterator[list[GatewayProcess]]:
    gateways: list[GatewayProcess] = []
    yield gateways
    for gateway in gateways:
        gateway.stop()


def _answers(gateway: GatewayProcess) -> bool:
    try:
        httpx.get(gateway.url + "/healthz", timeout=1.0)
    except httpx.TransportError:
        return False
    return True


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_show_sync_connected_and_the_snapshot_swapped_in(
    world: World, tmp_path: Path, started: list[GatewayProcess], workers: int
) -> None:
    token = world.platform_admin().post("/v1/gateway-tokens", json={"name": "metrics"}).json()
    gateway = GatewayProcess(
        None,
        free_port(),
        workers=workers,
        env={
            "STOA_CONTROL_PLANE_URL": world.base_url,
            "STOA_GATEWAY_TOKEN": token["secret"],
            "STOA_DATA_DIR": str(tmp_path / "gw"),
        },
    )
    started.append(gateway)
    gateway.wait_ready()
    assert _sample(gateway, "stoa_gateway_config_sync_connected") == 1
    assert _sample(gateway, "stoa_gateway_config_sync_swaps_total") == 1
    last_success = _sample(gateway, "stoa_gateway_config_sync_last_success_timestamp_seconds")
    assert last_success is not None
    assert last_success > time.time() - 60
    assert _sample(gateway, "stoa_gateway_config_sync_failures_total", reason="unreachable") in (
        None,
        0,
    )


def test_metrics_count_failures_while_the_control_plane_is_unreachable(
    tmp_path: Path, started: list[GatewayProcess]
) -> None:
    gateway = GatewayProcess(
        None,
        free_port(),
        env={
            "STOA_CONTROL_PLANE_URL": f"http://127.0.0.1:{free_port()}",
            "STOA_GATEWAY_TOKEN": "stoa_gw_whatever",
            "STOA_DATA_DIR": str(tmp_path / "gw"),
            "STOA_GATEWAY__SYNC_BACKOFF_MAX_SECONDS": "1",
        },
    )
    started.append(gateway)
    deadline = time.monotonic() + 30
    while not _answers(gateway):
        assert time.monotonic() < deadline, "the gateway does not listen"
        time.sleep(0.05)

    def failures() -> float:
        counted = _sample(gateway, "stoa_gateway_config_sync_failures_total", reason="unreachable")
        return counted or 0.0

    # The start's attempt, then the loop's retries, at most a second apart.
    while failures() < 3:
        assert time.monotonic() < deadline, f"failures counted: {failures()}"
        time.sleep(0.1)
    assert _sample(gateway, "stoa_gateway_config_sync_connected") == 0
    assert _sample(gateway, "stoa_gateway_config_sync_swaps_total") in (None, 0)
