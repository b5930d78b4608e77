"""Doubles for unit tests of the gateway's config sync: snapshots and a `ConfigSync`
talking to a control plane played by a function (httpx's MockTransport)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from stoa.contract.snapshot import SCHEMA_VERSION, ApiEntry, Snapshot
from stoa.gateway.snapshot.sync import ConfigSync, GatewayIdentity


def snapshot_of(*apis: ApiEntry, generated_at: float | None = None) -> Snapshot:
    """A snapshot of `apis` and nothing else."""
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        generated_at=time.time() if generated_at is None else generated_at,
        apis=list(apis),
        plans=[],
        applications=[],
        subscriptions=[],
        keys=[],
        policies=[],
    )


def rest_api(upstream_url: str) -> ApiEntry:
    """REST API `acme/echo` forwarding to `upstream_url`."""
    return ApiEntry(
        id="api_1",
        tenant_id="ten_1",
        tenant="acme",
        name="echo",
        kind="rest",
        lifecycle="published",
        visibility="public",
        upstream_url=upstream_url,
        tools=[],
    )


def config_sync(
    control_plane: Callable[[httpx.Request], httpx.Response], copy_file: Path
) -> ConfigSync:
    """A `ConfigSync` of gateway `edge` whose requests `control_plane` answers."""
    return ConfigSync(
        control_plane_url="http://cp.test",
        token="stoa_gw_test",
        identity=GatewayIdentity("gwi_1", "edge", "test", "http://edge.test"),
        copy_file=copy_file,
        wait_seconds=1.0,
        backoff_max_seconds=1.0,
        transport=httpx.MockTransport(control_plane),
    )
