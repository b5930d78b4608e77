"""The MCP endpoint in process, against real upstreams on loopback.

The demo toolbox (official SDK, 2026-07-28 and legacy), the demo weather REST API, and a
legacy-only session server; requests go straight to `McpEndpoint.handle`, so these tests
pin the protocol behaviour independently of the HTTP server in front of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from stoa.contract.snapshot import ToolEntry, UpstreamAuth
from stoa.demo.toolbox import create_toolbox_app
from stoa.demo.weather import create_weather_app
from stoa.gateway.auth.caller import Caller
from stoa.gateway.http.request import Request
from stoa.gateway.http.response import Response
from stoa.gateway.mcp.endpoint import AGGREGATE, McpEndpoint, McpScope
from stoa.gateway.snapshot.holder import SnapshotHolder
from stoa.gateway.telemetry import metrics
from stoa.kit.settings import Settings
from support.gateway_mcp import api, caller_of, snapshot, toolbox_tools, weather_tools
from support.legacy_mcp_upstream import create_legacy_app
from support.servers import ServerThread, free_port

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class Upstreams:
    toolbox: str
    weather: str
    legacy: str


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    servers = [
        ServerThread(create_toolbox_app(), ready_path="/"),
        ServerThread(create_weather_app(), ready_path="/openapi.yaml"),
        ServerThread(create_legacy_app(), ready_path="/stats"),
    ]
    for server in servers:
        server.start()
    try:
        yield Upstreams(
            toolbox=servers[0].url + "/mcp", weather=servers[1].url, legacy=servers[2].url
        )
    finally:
        for server in servers:
            server.stop()


@dataclass
class Context:
    settings: Settings
    holder: SnapshotHolder


class Gateway:
    """An endpoint over one snapshot, with helpers speaking both generations."""

    def __init__(self, apis: list[Any], *, scopes: frozenset[str] | None = None, **kw: Any):
        settings = Settings(
            gateway={
                "upstream_timeout_seconds": kw.pop("timeout", 5.0),
                "connect_timeout_seconds": 1.0,
                "max_body_bytes": 10_000,
                "mcp": {"allowed_origins": ["https://agent.example"], "page_size": 3},
            }
        )
        holder = SnapshotHolder()
        compiled = holder.install(snapshot(apis, **kw))
        self.caller: Caller = caller_of(compiled, scopes=scopes)
        self.endpoint = McpEndpoint(Context(settings, holder))
        self.session: str | None = None
        self.ids = 0

    async def send(
        self,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        scope: McpScope = AGGREGATE,
        method: str = "POST",
    ) -> Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        merged = {"accept": "application/json, text/event-stream", "host": "127.0.0.1:8080"}
        if self.session is not None:
            merged["mcp-session-id"] = self.session
        merged.update(headers or {})
        request = Request(method, "/mcp", "", merged, raw, "127.0.0.1", "r1")
        return await self.endpoint.handle(request, self.caller, scope)

    async def initialize(self, version: str = "2025-11-25", scope: McpScope = AGGREGATE) -> dict:
        response = await self.send(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {}},
            },
            scope=scope,
        )
        assert response.status == 200
        self.session = dict(response.headers)["mcp-session-id"]
        return body_of(response)["result"]

    async def legacy(self, method: str, params: dict | None = None, **kw: Any) -> dict:
        self.ids += 1
        message = {"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params or {}}
        return body_of(await self.send(message, **kw))

    async def modern(
        self, method: str, params: dict | None = None, *, name: str | None = None, **kw: Any
    ) -> tuple[Response, dict]:
        self.ids += 1
        headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
        if name is not None:
            headers["mcp-name"] = name
        headers.update(kw.pop("headers", {}))
        message = {
            "jsonrpc": "2.0",
            "id": self.ids,
            "method": method,
            "params": {**(params or {}), "_meta": kw.pop("meta", META)},
        }
        response = await self.send(message, headers=headers, **kw)
        return response, body_of(response)

    async def close(self) -> None:
        await self.endpoint.close()


def body_of(response: Response) -> Any:
    if dict(response.headers).get("content-type") == "text/event-stream":
        data = response.body.decode().split("data: ", 1)[1].split("\n", 1)[0]
        return json.loads(data)
    return json.loads(response.body)


def demo_apis(up: Upstreams) -> list[Any]:
    return [
        api("a-weather", "weather", "rest", up.weather, weather_tools()),
        api("a-toolbox", "toolbox", "mcp", up.toolbox, toolbox_tools()),
    ]


@pytest.fixture
async def gateway(upstreams: Upstreams) -> Any:
    gw = Gateway(demo_apis(upstreams))
    yield gw
    await gw.close()


# --- the 2025 session generation --------------------------------------------------------


async def test_a_legacy_session_lists_and_calls_tools_of_both_upstreams(gateway: Gateway) -> None:
    init = await gateway.initialize("2025-06-18")
    assert init["protocolVersion"] == "2025-06-18"
    assert "tools" in init["capabilities"]
    listed = await gateway.legacy("tools/list")
    names = [tool["name"] for tool in listed["result"]["tools"]]
    assert names == ["toolbox__add", "toolbox__echo", "toolbox__fail"]
    page2 = await gateway.legacy("tools/list", {"cursor": listed["result"]["nextCursor"]})
    assert [t["name"] for t in page2["result"]["tools"]] == [
        "weather__createAlert",
        "weather__getForecast",
    ]
    assert "nextCursor" not in page2["result"]

    echo = await gateway.legacy(
        "tools/call", {"name": "toolbox__echo", "arguments": {"text": "héllo"}}
    )
    assert echo["result"]["content"][0]["text"] == "héllo"
    forecast = await gateway.legacy(
        "tools/call", {"name": "weather__getForecast", "arguments": {"city": "Paris"}}
    )
    assert forecast["result"]["structuredContent"]["city"] == "Paris"
    assert len(forecast["result"]["structuredContent"]["days"]) == 3


async def test_the_gateway_answers_ping_and_acknowledges_notifications(gateway: Gateway) -> None:
    await gateway.initialize()
    assert (await gateway.legacy("ping"))["result"] == {}
    response = await gateway.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status == 202


async def test_a_request_without_session_is_400_and_a_forged_one_404(gateway: Gateway) -> None:
    response = await gateway.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status == 400
    assert "Mcp-Session-Id" in body_of(response)["error"]["message"]
    gateway.session = "s1.forged.mac"
    assert (await gateway.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})).status == 404


async def test_get_offers_no_stream_and_delete_needs_a_session(gateway: Gateway) -> None:
    assert (await gateway.send(b"", method="GET")).status == 405
    assert (await gateway.send(b"", method="DELETE")).status == 400


async def test_delete_ends_the_session(gateway: Gateway) -> None:
    live = gateway.endpoint.live_sessions
    await gateway.initialize()
    assert live.count() == 1
    assert (await gateway.send(b"", method="DELETE")).status == 204
    assert live.count() == 0
    response = await gateway.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status == 404


async def test_a_session_is_bound_to_its_caller(gateway: Gateway) -> None:
    await gateway.initialize()
    gateway.caller = Caller("someone-else", gateway.caller.grants, None)
    response = await gateway.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status == 404


async def test_batches_are_answered_in_2025_03_26_only(gateway: Gateway) -> None:
    await gateway.initialize("2025-03-26")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
    ]
    answers = body_of(await gateway.send(batch))
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[1]["error"]["code"] == -32601
    await gateway.initialize("2025-11-25")
    response = await gateway.send(batch)
    assert response.status == 400
    assert body_of(response)["error"]["code"] == -32600


async def test_a_mismatched_protocol_version_header_is_refused(gateway: Gateway) -> None:
    await gateway.initialize("2025-11-25")
    response = await gateway.send(
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"mcp-protocol-version": "2025-06-18"},
    )
    assert response.status == 400


# --- the 2026-07-28 stateless generation -------------------------------------------------


async def test_modern_discover_list_and_call_need_no_session(gateway: Gateway) -> None:
    response, discover = await gateway.modern("server/discover")
    assert response.status == 200
    assert discover["result"]["supportedVersions"] == [MODERN]
    assert discover["result"]["resultType"] == "complete"
    _, listed = await gateway.modern("tools/list")
    result = listed["result"]
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "private"
    assert isinstance(result["ttlMs"], int)
    _, added = await gateway.modern(
        "tools/call", {"name": "toolbox__add", "arguments": {"a": 1, "b": 2}}, name="toolbox__add"
    )
    assert added["result"]["structuredContent"] == {"result": 3.0}
    assert added["result"]["resultType"] == "complete"


async def test_tool_calls_are_counted_by_api_and_tool(gateway: Gateway) -> None:
    def count() -> float:
        metrics.flush()
        value = REGISTRY.get_sample_value(
            "stoa_gateway_requests_total",
            {
                "kind": "mcp-tool",
                "tenant": "demo",
                "api": "toolbox",
                "tool": "echo",
                "status_class": "2xx",
            },
        )
        return value or 0.0

    before = count()
    await gateway.modern(
        "tools/call", {"name": "toolbox__echo", "arguments": {"text": "x"}}, name="toolbox__echo"
    )
    assert count() == before + 1


async def test_modern_headers_must_match_the_body(gateway: Gateway) -> None:
    response, body = await gateway.modern(
        "tools/call", {"name": "toolbox__echo", "arguments": {"text": "x"}}, name="toolbox__add"
    )
    assert response.status == 400
    assert body["error"]["code"] == -32020
    response, body = await gateway.modern("tools/list", headers={"mcp-method": "prompts/list"})
    assert body["error"]["code"] == -32020


async def test_an_unsupported_modern_version_lists_the_supported_ones(gateway: Gateway) -> None:
    meta = {**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}
    response, body = await gateway.modern(
        "tools/list", meta=meta, headers={"mcp-protocol-version": "2099-01-01"}
    )
    assert response.status == 400
    assert body["error"]["code"] == -32022
    assert body["error"]["data"]["supported"] == [MODERN]


async def test_modern_requests_without_meta_are_invalid_params(gateway: Gateway) -> None:
    response = await gateway.send(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={"mcp-protocol-version": MODERN, "mcp-method": "tools/list"},
    )
    assert response.status == 400
    assert body_of(response)["error"]["code"] == -32602


async def test_unknown_methods_and_tools_are_told_apart(gateway: Gateway) -> None:
    response, body = await gateway.modern("tools/frobnicate")
    assert (response.status, body["error"]["code"]) == (404, -32601)
    response, body = await gateway.modern(
        "tools/call", {"name": "weather__nope", "arguments": {}}, name="weather__nope"
    )
    assert body["error"]["code"] == -32602
    assert "weather__nope" in body["error"]["message"]


# --- malformed input, origin, size ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", -32700),
        (b"[]", -32600),
        (b'{"jsonrpc":"2.0","id":{},"method":"ping"}', -32600),
    ],
)
async def test_malformed_json_rpc_gets_an_error_never_a_crash(
    gateway: Gateway, raw: bytes, code: int
) -> None:
    response = await gateway.send(raw)
    assert response.status == 400
    assert body_of(response)["error"]["code"] == code


async def test_a_foreign_origin_is_refused_and_an_allowed_one_served(gateway: Gateway) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "server/discover"}
    response = await gateway.send(ping, headers={"origin": "http://evil.example"})
    assert response.status == 403
    _, body = await gateway.modern("server/discover", headers={"origin": "https://agent.example"})
    assert "result" in body


async def test_an_oversize_body_is_413(gateway: Gateway) -> None:
    big = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * 20_000}}
    assert (await gateway.send(big)).status == 413


async def test_answers_come_as_an_event_stream_when_only_that_is_accepted(
    gateway: Gateway,
) -> None:
    _, body = await gateway.modern("server/discover", headers={"accept": "text/event-stream"})
    assert body["result"]["supportedVersions"] == [MODERN]


# --- authorization, limits ------------------------------------------------------------------


async def test_a_token_without_write_scope_may_only_call_read_only_tools(
    upstreams: Upstreams,
) -> None:
    gw = Gateway(demo_apis(upstreams), scopes=frozenset({"stoa:read"}))
    try:
        response, body = await gw.modern(
            "tools/call",
            {"name": "toolbox__echo", "arguments": {"text": "x"}},
            name="toolbox__echo",
        )
        assert response.status == 403
        challenge = dict(response.headers)["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="stoa:write"' in challenge
        assert "resource_metadata=" in challenge
        _, body = await gw.modern(
            "tools/call",
            {"name": "toolbox__add", "arguments": {"a": 2, "b": 2}},
            name="toolbox__add",
        )
        assert body["result"]["structuredContent"] == {"result": 4.0}
    finally:
        await gw.close()


async def test_over_the_rate_limit_a_call_gets_a_retry_after(upstreams: Upstreams) -> None:
    apis = [api("a-limited", "toolbox", "mcp", upstreams.toolbox, toolbox_tools())]
    gw = Gateway(apis, plan={"per_minute": 1})
    try:
        params = {"name": "toolbox__add", "arguments": {"a": 1, "b": 1}}
        _, first = await gw.modern("tools/call", params, name="toolbox__add")
        assert "result" in first
        response, second = await gw.modern("tools/call", params, name="toolbox__add")
        assert int(dict(response.headers)["Retry-After"]) >= 1
        assert second["error"]["code"] == -32005
        assert second["error"]["data"]["status"] == 429
        assert second["error"]["data"]["retryAfter"] >= 1
    finally:
        await gw.close()


async def test_the_per_api_endpoint_shows_one_api_unprefixed(gateway: Gateway) -> None:
    scope = McpScope("demo", "toolbox")
    _, body = await gateway.modern("tools/list", scope=scope)
    assert [t["name"] for t in body["result"]["tools"]] == ["add", "echo", "fail"]
    _, body = await gateway.modern(
        "tools/call", {"name": "echo", "arguments": {"text": "one"}}, name="echo", scope=scope
    )
    assert body["result"]["content"][0]["text"] == "one"


async def test_an_unsubscribed_api_is_absent_and_its_endpoint_forbidden(
    upstreams: Upstreams,
) -> None:
    gw = Gateway(demo_apis(upstreams), subscribed=["a-weather"])
    try:
        _, body = await gw.modern("tools/list")
        assert [t["name"] for t in body["result"]["tools"]] == [
            "weather__createAlert",
            "weather__getForecast",
        ]
        response, body = await gw.modern("tools/list", scope=McpScope("demo", "toolbox"))
        assert response.status == 403
    finally:
        await gw.close()


# --- upstream trouble -------------------------------------------------------------------------


async def test_a_tool_error_and_a_rest_error_come_back_as_is_error(gateway: Gateway) -> None:
    _, failed = await gateway.modern(
        "tools/call", {"name": "toolbox__fail", "arguments": {}}, name="toolbox__fail"
    )
    assert failed["result"]["isError"] is True
    _, bad = await gateway.modern(
        "tools/call",
        {"name": "weather__getForecast", "arguments": {"city": " "}},
        name="weather__getForecast",
    )
    assert bad["result"]["isError"] is True
    assert "HTTP 400" in bad["result"]["content"][0]["text"]


async def test_an_upstream_that_is_down_is_a_tool_error_naming_the_api() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    apis = [
        api("a-deadmcp", "toolbox", "mcp", dead + "/mcp", toolbox_tools()),
        api("a-deadrest", "weather", "rest", dead, weather_tools()),
    ]
    gw = Gateway(apis)
    try:
        for name, arguments in (
            ("toolbox__echo", {"text": "x"}),
            ("weather__getForecast", {"city": "x"}),
        ):
            response, body = await gw.modern(
                "tools/call", {"name": name, "arguments": arguments}, name=name
            )
            assert response.status == 200
            assert body["result"]["isError"] is True
            assert name.split("__")[0] in body["result"]["content"][0]["text"]
        # The gateway still serves.
        _, listed = await gw.modern("tools/list")
        assert listed["result"]["tools"]
    finally:
        await gw.close()


async def test_a_legacy_upstream_is_called_through_its_session_and_recovers_from_restart(
    upstreams: Upstreams,
) -> None:
    apis = [
        api(
            "a-legacy",
            "legacy",
            "mcp",
            upstreams.legacy + "/mcp",
            [
                ToolEntry(name="whoami", description="who", input_schema={"type": "object"}),
                ToolEntry(name="slow", description="slow", input_schema={"type": "object"}),
                ToolEntry(name="linger", description="linger", input_schema={"type": "object"}),
            ],
        )
    ]
    gw = Gateway(apis, timeout=1.0)
    try:
        before = httpx.get(upstreams.legacy + "/stats").json()["initialize"]
        params = {"name": "legacy__whoami", "arguments": {}}
        _, body = await gw.modern("tools/call", params, name="legacy__whoami")
        assert body["result"]["content"][0]["text"] == "legacy"
        # A legacy upstream's result gains the resultType a 2026-07-28 client needs.
        assert body["result"]["resultType"] == "complete"
        _, body = await gw.modern("tools/call", params, name="legacy__whoami")
        assert httpx.get(upstreams.legacy + "/stats").json()["initialize"] == before + 1
        httpx.post(upstreams.legacy + "/forget")
        _, body = await gw.modern("tools/call", params, name="legacy__whoami")
        assert body["result"]["content"][0]["text"] == "legacy"
        assert httpx.get(upstreams.legacy + "/stats").json()["initialize"] == before + 2

        # An answer inside a stream that stays open is passed on at once, not at the deadline.
        linger = {"name": "legacy__linger", "arguments": {}}
        _, body = await gw.modern("tools/call", linger, name="legacy__linger")
        assert body["result"]["content"][0]["text"] == "lingering"

        slow = {"name": "legacy__slow", "arguments": {"seconds": 3}}
        _, body = await gw.modern("tools/call", slow, name="legacy__slow")
        assert body["result"]["isError"] is True
        assert "did not answer" in body["result"]["content"][0]["text"]
    finally:
        await gw.close()


async def test_the_upstream_credential_is_added_and_the_callers_is_not_passed_on(
    upstreams: Upstreams,
) -> None:
    auth = UpstreamAuth(location="header", name="X-Upstream-Key", value="hunter2")
    tools = [ToolEntry(name="headers", description="h", input_schema={"type": "object"})]
    apis = [api("a-cred", "legacy", "mcp", upstreams.legacy + "/mcp", tools, auth=auth)]
    gw = Gateway(apis)
    try:
        params = {"name": "legacy__headers", "arguments": {}}
        _, body = await gw.modern(
            "tools/call", params, name="legacy__headers", headers={"x-api-key": "stoa_sk_caller"}
        )
        seen = json.loads(body["result"]["content"][0]["text"])
        assert seen["x-upstream-key"] == "hunter2"
        assert "x-api-key" not in seen
        assert "authorization" not in seen
    finally:
        await gw.close()


# --- resources and prompts ---------------------------------------------------------------------


async def test_resources_and_prompts_pass_through_namespaced(gateway: Gateway) -> None:
    _, listed = await gateway.modern("resources/list")
    uris = [r["uri"] for r in listed["result"]["resources"]]
    assert uris == ["toolbox+toolbox://readme"]
    _, read = await gateway.modern("resources/read", {"uri": uris[0]}, name=uris[0])
    content = read["result"]["contents"][0]
    assert content["uri"] == "toolbox+toolbox://readme"
    assert "toolbox" in content["text"]
    _, prompts = await gateway.modern("prompts/list")
    assert [p["name"] for p in prompts["result"]["prompts"]] == ["toolbox__greet"]
    _, prompt = await gateway.modern(
        "prompts/get",
        {"name": "toolbox__greet", "arguments": {"name": "Ada"}},
        name="toolbox__greet",
    )
    assert "Ada" in prompt["result"]["messages"][0]["content"]["text"]
