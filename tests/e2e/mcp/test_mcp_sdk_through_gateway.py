"""The official MCP Python SDK client (2.x) against a running `stoa gateway`, both
protocol generations, with the demo upstreams (toolbox MCP server, weather REST API).

The gateway runs two worker processes, so consecutive requests of one legacy session land
on different workers: the signed session id is what makes that work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from support.gateway_mcp import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def client(stack: Stack, path: str = "/mcp", **kwargs: Any) -> AsyncIterator[Client]:
    async with (
        create_mcp_http_client(headers={"X-API-Key": stack.key}) as http,
        Client(
            streamable_http_client(stack.gateway.url + path, http_client=http), **kwargs
        ) as connected,
    ):
        yield connected


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_sdk_lists_and_calls_tools_in_both_generations(stack: Stack, mode: str) -> None:
    async for mcp in client(stack, mode=mode):
        expected = "2026-07-28" if mode == "auto" else "2025-11-25"
        assert mcp.protocol_version == expected
        tools = await mcp.list_tools()
        assert [tool.name for tool in tools.tools] == [
            "toolbox__add",
            "toolbox__echo",
            "toolbox__fail",
            "weather__createAlert",
            "weather__getForecast",
        ]
        # Several calls: with two workers they are served by both.
        for word in ("one", "two", "three", "four"):
            echoed = await mcp.call_tool("toolbox__echo", {"text": word})
            assert echoed.content[0].text == word  # type: ignore[union-attr]
        forecast = await mcp.call_tool("weather__getForecast", {"city": "Lyon"})
        assert forecast.is_error is False
        assert forecast.structured_content is not None
        assert forecast.structured_content["city"] == "Lyon"
        failed = await mcp.call_tool("toolbox__fail", {})
        assert failed.is_error is True


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_sdk_reads_resources_and_prompts_through_the_gateway(
    stack: Stack, mode: str
) -> None:
    async for mcp in client(stack, mode=mode):
        resources = await mcp.list_resources()
        assert [str(r.uri) for r in resources.resources] == ["toolbox+toolbox://readme"]
        read = await mcp.read_resource("toolbox+toolbox://readme")
        assert "toolbox" in read.contents[0].text  # type: ignore[union-attr]
        prompt = await mcp.get_prompt("toolbox__greet", {"name": "Ada"})
        assert "Ada" in prompt.messages[0].content.text  # type: ignore[union-attr]


async def test_the_per_api_endpoint_serves_one_api_unprefixed(stack: Stack) -> None:
    async for mcp in client(stack, "/mcp/demo/weather"):
        tools = await mcp.list_tools()
        assert [tool.name for tool in tools.tools] == ["createAlert", "getForecast"]
        alert = await mcp.call_tool(
            "createAlert", {"region": "alps", "message": "snow", "X-Priority": "high"}
        )
        assert alert.structured_content is not None
        assert alert.structured_content["region"] == "alps"
        assert alert.structured_content["priority"] == "high"


def test_plain_http_negative_cases_keep_the_gateway_serving(stack: Stack) -> None:
    url = stack.gateway.url + "/mcp"
    key = {"X-API-Key": stack.key, "Accept": "application/json, text/event-stream"}
    assert httpx.post(url, content=b"{}", headers={"Accept": "application/json"}).status_code == 401
    malformed = httpx.post(url, content=b"{oops", headers=key)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == -32700
    foreign = httpx.post(url, json={}, headers={**key, "Origin": "http://evil.example"})
    assert foreign.status_code == 403
    oversize = httpx.post(url, content=b"x" * (11 * 1024 * 1024), headers=key)
    assert oversize.status_code == 413
    no_session = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=key)
    assert no_session.status_code == 400
    assert httpx.get(stack.gateway.url + "/readyz").status_code == 200
