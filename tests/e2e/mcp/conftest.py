"""A running `stoa gateway` (two workers) over the demo upstreams, shared by the MCP
end-to-end tests: the toolbox MCP server and the weather REST API, both subscribed by the
application whose API key the tests present."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stoa.demo.toolbox import create_toolbox_app
from stoa.demo.weather import create_weather_app
from support.gateway_mcp import (
    GatewayRun,
    Stack,
    api,
    snapshot,
    toolbox_tools,
    weather_tools,
    with_key,
)
from support.servers import ServerThread


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    toolbox = ServerThread(create_toolbox_app(), ready_path="/").start()
    weather = ServerThread(create_weather_app(), ready_path="/openapi.yaml").start()
    built, key = with_key(
        snapshot(
            [
                api("a-weather", "weather", "rest", weather.url, weather_tools()),
                api("a-toolbox", "toolbox", "mcp", toolbox.url + "/mcp", toolbox_tools()),
            ]
        )
    )
    gateway = GatewayRun(built, tmp_path_factory.mktemp("gw"), workers=2)
    try:
        yield Stack(gateway, key)
    finally:
        gateway.stop()
        toolbox.stop()
        weather.stop()
