"""The demo upstreams, served for real on loopback, answer the way the demo relies on."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import yaml
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent, TextResourceContents
from starlette.testclient import TestClient

from stoa.demo.serve import WEATHER_OPENAPI_PATH, DemoUrls, serve_demo_upstreams
from stoa.demo.toolbox import FAIL_MESSAGE, README_URI, create_toolbox_app

pytestmark = pytest.mark.anyio

# What a Streamable HTTP POST must carry on a handshake-era protocol version.
MCP_POST_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


@pytest.fixture
async def demo() -> AsyncIterator[DemoUrls]:
    async with anyio.create_task_group() as task_group:
        urls: DemoUrls = await task_group.start(serve_demo_upstreams, "127.0.0.1", 0, 0)
        yield urls
        task_group.cancel_scope.cancel()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def sse_json_messages(body: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages in an SSE body (the SDK sends one `data:` line per event)."""
    return [
        json.loads(line[len("data:") :]) for line in body.splitlines() if line.startswith("data:")
    ]


async def test_forecast_is_deterministic_and_has_the_documented_shape(
    demo: DemoUrls, http: httpx.AsyncClient
) -> None:
    url = f"{demo.weather_base_url}/forecast"
    first = await http.get(url, params={"city": "Paris"})
    second = await http.get(url, params={"city": "Paris"})
    other_spelling = await http.get(url, params={"city": "  paris "})
    elsewhere = await http.get(url, params={"city": "Oslo"})

    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    forecast = first.json()
    assert forecast == second.json()
    assert other_spelling.json()["days"] == forecast["days"]
    assert elsewhere.json()["days"] != forecast["days"]
    assert forecast["city"] == "Paris"
    assert forecast["unit"] == "celsius"
    assert [day["date"] for day in forecast["days"]] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    for day in forecast["days"]:
        assert set(day) == {"date", "condition", "high", "low"}
        assert isinstance(day["high"], int)
        assert isinstance(day["low"], int)
        assert day["low"] <= day["high"]
        assert day["condition"] in {"sunny", "partly cloudy", "cloudy", "rain", "thunderstorms"}


@pytest.mark.parametrize("query", [{}, {"city": ""}, {"city": "   "}])
async def test_forecast_without_a_city_is_a_400_json_error(
    demo: DemoUrls, http: httpx.AsyncClient, query: dict[str, str]
) -> None:
    response = await http.get(f"{demo.weather_base_url}/forecast", params=query)

    assert response.status_code == 400
    assert "city" in response.json()["error"]


async def test_create_alert_returns_the_alert_with_a_new_id(
    demo: DemoUrls, http: httpx.AsyncClient
) -> None:
    url = f"{demo.weather_base_url}/alerts/north"
    first = await http.post(
        url, json={"message": "storm", "severity": "high"}, headers={"X-Priority": "urgent"}
    )
    second = await http.post(url, json={"message": "drizzle"})
    invalid = await http.post(url, json={"severity": "extreme"})

    assert first.status_code == 201
    assert first.json() == {
        "id": "alert-1",
        "region": "north",
        "message": "storm",
        "severity": "high",
        "priority": "urgent",
    }
    assert second.status_code == 201
    assert second.json()["id"] == "alert-2"
    assert second.json()["severity"] == "low"
    assert second.json()["priority"] is None
    assert invalid.status_code == 400
    assert "message" in invalid.json()["error"]


async def test_served_openapi_document_is_the_packaged_one_and_describes_the_api(
    demo: DemoUrls, http: httpx.AsyncClient
) -> None:
    response = await http.get(demo.weather_openapi_url)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml"
    assert response.content == WEATHER_OPENAPI_PATH.read_bytes()
    document = yaml.safe_load(response.text)
    assert document["openapi"].startswith("3.1")
    forecast = document["paths"]["/forecast"]["get"]
    assert forecast["operationId"] == "getForecast"
    assert forecast["summary"] == "Get the weather forecast for a city"
    assert forecast["parameters"][0] == {
        "name": "city",
        "in": "query",
        "required": True,
        "description": "City name, e.g. Paris.",
        "schema": {"type": "string", "minLength": 1},
    }
    assert document["paths"]["/alerts/{region}"]["post"]["operationId"] == "createAlert"


async def test_toolbox_serves_the_official_sdk_client(demo: DemoUrls) -> None:
    async with (
        streamable_http_client(demo.toolbox_mcp_url) as (read, write),
        ClientSession(read, write) as session,
    ):
        initialized = await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        echoed = await session.call_tool("echo", {"text": "hi"})
        added = await session.call_tool("add", {"a": 1, "b": 2.5})
        failed = await session.call_tool("fail", {})
        readme = await session.read_resource(README_URI)
        prompt = await session.get_prompt("greet", {"name": "Ada"})

    assert initialized.server_info.name == "toolbox"
    assert set(tools) == {"echo", "add", "fail"}
    assert tools["echo"].description == "Return the text unchanged"
    assert tools["echo"].input_schema["properties"]["text"]["type"] == "string"
    assert tools["echo"].input_schema["required"] == ["text"]
    assert tools["add"].input_schema["required"] == ["a", "b"]
    assert {tools["add"].input_schema["properties"][n]["type"] for n in "ab"} == {"number"}
    assert tools["add"].annotations is not None
    assert tools["add"].annotations.read_only_hint is True
    assert tools["fail"].input_schema.get("required", []) == []

    assert echoed.is_error is False
    assert echoed.content == [TextContent(type="text", text="hi")]
    assert added.structured_content == {"result": 3.5}
    assert failed.is_error is True
    assert isinstance(failed.content[0], TextContent)
    assert FAIL_MESSAGE in failed.content[0].text

    assert isinstance(readme.contents[0], TextResourceContents)
    assert readme.contents[0].mime_type == "text/markdown"
    assert "echo" in readme.contents[0].text
    assert isinstance(prompt.messages[0].content, TextContent)
    assert "Ada" in prompt.messages[0].content.text


async def test_toolbox_answers_plain_json_rpc_without_initialize(
    demo: DemoUrls, http: httpx.AsyncClient
) -> None:
    response = await http.post(demo.toolbox_mcp_url, json=TOOLS_LIST, headers=MCP_POST_HEADERS)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "mcp-session-id" not in response.headers
    (message,) = sse_json_messages(response.text)
    assert message["id"] == 1
    echo = next(tool for tool in message["result"]["tools"] if tool["name"] == "echo")
    assert echo["inputSchema"]["properties"]["text"]["type"] == "string"


@pytest.mark.parametrize(("host", "status"), [("localhost", 200), ("evil.example:80", 421)])
async def test_toolbox_accepts_only_loopback_host_headers(
    demo: DemoUrls, http: httpx.AsyncClient, host: str, status: int
) -> None:
    response = await http.post(
        demo.toolbox_mcp_url, json=TOOLS_LIST, headers={**MCP_POST_HEADERS, "Host": host}
    )

    assert response.status_code == status


def test_toolbox_in_json_mode_answers_with_one_json_body() -> None:
    # The JSON mode is not what serve_demo_upstreams runs, so the app is driven in-process.
    app = create_toolbox_app(json_response=True)
    with TestClient(app, base_url="http://127.0.0.1:8092") as client:
        response = client.post(
            "/mcp", json=TOOLS_LIST, headers={**MCP_POST_HEADERS, "Accept": "application/json"}
        )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert {tool["name"] for tool in response.json()["result"]["tools"]} == {"echo", "add", "fail"}


async def test_cancelling_stops_both_upstreams(http: httpx.AsyncClient) -> None:
    async with anyio.create_task_group() as task_group:
        urls: DemoUrls = await task_group.start(serve_demo_upstreams, "127.0.0.1", 0, 0)
        assert (await http.get(urls.weather_openapi_url)).status_code == 200
        task_group.cancel_scope.cancel()

    for url in (urls.weather_openapi_url, urls.toolbox_mcp_url):
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_a_taken_port_fails_fast_with_oserror() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            await serve_demo_upstreams("127.0.0.1", weather_port=0, toolbox_port=port)
