"""A synced gateway's `/metrics` says whether config sync works: the supervisor's sync
figures reach the scrape of any worker, with one worker as with several."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from gateway_world import GatewayProcess
from prometheus_client.parser import text_string_to_metric_families
from synced_gateways import Gateways, answers, eventually, gateway_token

from support.servers import free_port
from support.world import World


def _sample(gateway: GatewayProcess, name: str, **labels: str) -> float | None:
    text = httpx.get(gateway.url + "/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_show_sync_connected_and_the_snapshot_swapped_in(
    world: World, gateways: Gateways, tmp_path: Path, workers: int
) -> None:
    token = gateway_token(world.platform_admin(), "metrics")
    gateway = gateways.start(token["secret"], data_dir=tmp_path / "gw", workers=workers)
    assert _sample(gateway, "stoa_gateway_config_sync_connected") == 1
    assert _sample(gateway, "stoa_gateway_config_sync_swaps_total") == 1
    last_success = _sample(gateway, "stoa_gateway_config_sync_last_success_timestamp_seconds")
    assert last_success is not None
    assert last_success > time.time() - 60
    unreachable = _sample(gateway, "stoa_gateway_config_sync_failures_total", reason="unreachable")
    assert unreachable in (None, 0)


def test_metrics_count_failures_while_the_control_plane_is_unreachable(
    gateways: Gateways, tmp_path: Path
) -> None:
    gateway = gateways.start(
        "stoa_gw_whatever",
        data_dir=tmp_path / "gw",
        workers=1,
        control_plane_url=f"http://127.0.0.1:{free_port()}",
        ready=False,
    )
    eventually(lambda: answers(gateway), "the gateway listens")

    # The start's attempt, then the loop's retries, at most a second apart.
    def failures() -> float:
        counted = _sample(gateway, "stoa_gateway_config_sync_failures_total", reason="unreachable")
        return counted or 0.0

    eventually(lambda: failures() >= 3, "three failed exchanges are counted")
    assert _sample(gateway, "stoa_gateway_config_sync_connected") == 0
    assert _sample(gateway, "stoa_gateway_config_sync_swaps_total") in (None, 0)
