"""What tools/list shows a caller: only granted tools, namespaced, sorted, paged."""

from __future__ import annotations

import msgspec
import pytest

from stoa.contract.snapshot import PolicyEntry
from stoa.gateway.mcp.catalog import Catalog, decode_cursor
from stoa.gateway.mcp.jsonrpc import JsonRpcError
from support.gateway_mcp import APP, api, caller_of, compiled, toolbox_tools, weather_tools

APIS = [
    api("a-weather", "weather", "rest", "http://127.0.0.1:1", weather_tools()),
    api("a-toolbox", "toolbox", "mcp", "http://127.0.0.1:2/mcp", toolbox_tools()),
]


def names(view_tools: list[msgspec.Raw]) -> list[str]:
    return [msgspec.json.decode(bytes(raw))["name"] for raw in view_tools]


def test_the_aggregate_lists_every_granted_tool_namespaced_and_sorted() -> None:
    snapshot = compiled(APIS)
    view = Catalog().aggregate_view(snapshot, caller_of(snapshot).grants)
    tools, cursor = view.page(None, 100)
    assert names(tools) == [
        "toolbox__add",
        "toolbox__echo",
        "toolbox__fail",
        "weather__createAlert",
        "weather__getForecast",
    ]
    assert cursor is None
    echo = msgspec.json.decode(bytes(tools[1]))
    assert echo["inputSchema"]["required"] == ["text"]
    assert echo["description"] == "Return the text unchanged"


def test_an_unsubscribed_api_contributes_nothing() -> None:
    snapshot = compiled(APIS, subscribed=["a-toolbox"])
    view = Catalog().aggregate_view(snapshot, caller_of(snapshot).grants)
    assert all(name.startswith("toolbox__") for name in view.names)
    assert "weather__getForecast" not in view.routes


def test_the_plan_allow_list_and_tool_filters_hide_tools() -> None:
    deny_fail = PolicyEntry(
        id="p1",
        tenant_id="t-demo",
        kind="tool_filter",
        target_type="api",
        target_id="a-toolbox",
        config={"deny": ["fail"]},
    )
    snapshot = compiled(
        APIS,
        plan={"tool_allowlist": ["echo", "fail", "getForecast"]},
        policies=[deny_fail],
    )
    view = Catalog().aggregate_view(snapshot, caller_of(snapshot).grants)
    assert view.names == ("toolbox__echo", "weather__getForecast")


def test_pages_follow_each_other_without_gaps_or_repeats() -> None:
    snapshot = compiled(APIS)
    view = Catalog().aggregate_view(snapshot, caller_of(snapshot).grants)
    seen: list[str] = []
    cursor = None
    while True:
        tools, cursor = view.page(cursor, 2)
        seen.extend(names(tools))
        if cursor is None:
            break
    assert seen == list(view.names)


def test_a_foreign_cursor_is_invalid_params() -> None:
    with pytest.raises(JsonRpcError) as caught:
        decode_cursor("not-ours")
    assert caught.value.code == -32602


def test_the_per_api_view_is_unprefixed() -> None:
    snapshot = compiled(APIS)
    grant = snapshot.grants_by_application[APP]["a-toolbox"]
    view = Catalog().api_view(snapshot, grant)
    assert view.names == ("add", "echo", "fail")
    assert view.routes["echo"].grant is grant


def test_same_named_apis_of_two_tenants_get_tenant_prefixes() -> None:
    snapshot = compiled(
        [
            api("a1", "toolbox", "mcp", "http://127.0.0.1:2/mcp", toolbox_tools()),
            api("a2", "toolbox", "mcp", "http://127.0.0.1:3/mcp", toolbox_tools(), tenant="acme"),
        ]
    )
    view = Catalog(separator="--").aggregate_view(snapshot, caller_of(snapshot).grants)
    assert "demo.toolbox--echo" in view.routes
    assert view.routes["acme.toolbox--echo"].grant.api.id == "a2"


def test_a_new_snapshot_drops_the_cached_views() -> None:
    catalog = Catalog()
    first = compiled(APIS)
    catalog.aggregate_view(first, caller_of(first).grants)
    second = compiled(APIS, subscribed=["a-weather"])
    view = catalog.aggregate_view(second, caller_of(second).grants)
    assert view.names == ("weather__createAlert", "weather__getForecast")
