"""What an operator's dashboard sees of config sync: failures by reason, refused
snapshots, swaps, and whether the control plane is answering right now."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from stoa.contract import sync
from stoa.contract.snapshot import (
    Snapshot,
    content_hash,
    encode_snapshot,
)
from stoa.gateway.snapshot.sync import (
    ControlPlaneUnreachable,
    TokenRefused,
)
from support.config_sync import config_sync, rest_api, snapshot_of


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _snapshot(upstream_url: str) -> Snapshot:
    return snapshot_of(rest_api(upstream_url))


class ControlPlane:
    """Answers `/v1/snapshot` with `snapshot`, or with `status` when it is set."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.status: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status is not None:
            return httpx.Response(self.status)
        if request.url.path == "/v1/snapshot/refusals":
            return httpx.Response(204)
        digest = content_hash(self.snapshot)
        return httpx.Response(
            200, content=encode_snapshot(self.snapshot), headers={sync.HASH_HEADER: digest}
        )


def test_sync_metrics_follow_swaps_refusals_and_failures(tmp_path: Path) -> None:
    control_plane = ControlPlane(_snapshot("http://upstream.test"))
    syncer = config_sync(control_plane, tmp_path / "synced-snapshot")
    swaps = _value("stoa_gateway_config_sync_swaps_total")
    refused = _value("stoa_gateway_config_sync_refused_snapshots_total")
    unreachable = _value("stoa_gateway_config_sync_failures_total", reason="unreachable")
    token_refused = _value("stoa_gateway_config_sync_failures_total", reason="token_refused")

    assert syncer.initial() is not None
    assert _value("stoa_gateway_config_sync_swaps_total") == swaps + 1
    assert _value("stoa_gateway_config_sync_connected") == 1
    assert _value("stoa_gateway_config_sync_last_success_timestamp_seconds") >= time.time() - 5

    # A snapshot that does not compile is refused, counted, and the old one stays.
    control_plane.snapshot = _snapshot("ftp://files.test/echo")
    assert syncer.refresh() is False
    assert _value("stoa_gateway_config_sync_refused_snapshots_total") == refused + 1
    assert _value("stoa_gateway_config_sync_swaps_total") == swaps + 1

    control_plane.status = 503
    with pytest.raises(ControlPlaneUnreachable):
        syncer.refresh()
    assert _value("stoa_gateway_config_sync_failures_total", reason="unreachable") == (
        unreachable + 1
    )
    assert _value("stoa_gateway_config_sync_connected") == 0

    control_plane.status = 401
    with pytest.raises(TokenRefused):
        syncer.refresh()
    assert _value("stoa_gateway_config_sync_failures_total", reason="token_refused") == (
        token_refused + 1
    )

    control_plane.status = None
    control_plane.snapshot = _snapshot("http://upstream.test/v2")
    assert syncer.refresh() is True
    assert _value("stoa_gateway_config_sync_swaps_total") == swaps + 2
    assert _value("stoa_gateway_config_sync_connected") == 1
    syncer.close()
