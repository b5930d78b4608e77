"""REST tools: arguments placed where the OpenAPI binding says; answers as tool results."""

from __future__ import annotations

from typing import Any

import pytest

from stoa.contract.snapshot import UpstreamAuth
from stoa.gateway.mcp.jsonrpc import JsonRpcError
from stoa.gateway.mcp.rest_call import build_call, tool_result


def parameter(name: str, where: str, **extra: Any) -> dict[str, Any]:
    style = {"path": "simple", "query": "form", "header": "simple"}[where]
    return {
        "name": name,
        "in": where,
        "property": extra.pop("prop", name),
        "style": extra.pop("style", style),
        "explode": extra.pop("explode", style == "form"),
        "content_type": extra.pop("content_type", None),
    }


def test_path_query_header_and_merged_body_go_where_the_binding_says() -> None:
    binding = {
        "method": "POST",
        "path": "/alerts/{region}",
        "parameters": [
            parameter("region", "path"),
            parameter("X-Priority", "header"),
            parameter("tags", "query"),
        ],
        "body": {
            "mode": "merged",
            "property": None,
            "properties": ["message", "severity"],
            "content_type": "application/json",
            "required": True,
        },
    }
    call = build_call(
        binding,
        {"region": "île de france", "X-Priority": "urgent", "tags": ["a", "b c"], "message": "hi"},
        base_path="/v1",
        auth=UpstreamAuth(location="header", name="X-Api-Key", value="secret"),
    )
    assert call.method == "POST"
    assert call.target == "/v1/alerts/%C3%AEle%20de%20france?tags=a&tags=b%20c"
    assert ("X-Priority", "urgent") in call.headers
    assert ("X-Api-Key", "secret") in call.headers
    assert ("Content-Type", "application/json") in call.headers
    assert call.body == b'{"message":"hi"}'


def test_unexploded_arrays_deep_objects_and_json_content_parameters() -> None:
    binding = {
        "method": "GET",
        "path": "/search",
        "parameters": [
            parameter("ids", "query", explode=False),
            parameter("filter", "query", style="deepObject", explode=True),
            parameter("q", "query", content_type="application/json"),
        ],
        "body": None,
    }
    call = build_call(
        binding,
        {"ids": [1, 2], "filter": {"city": "Paris"}, "q": {"x": True}},
        base_path="",
        auth=UpstreamAuth(location="query", name="key", value="s&t"),
    )
    assert call.target == (
        "/search?ids=1,2&filter%5Bcity%5D=Paris&q=%7B%22x%22%3Atrue%7D&key=s%26t"
    )
    assert call.body == b""


def test_a_missing_path_argument_is_invalid_params() -> None:
    binding = {"method": "GET", "path": "/f/{id}", "parameters": [parameter("id", "path")]}
    with pytest.raises(JsonRpcError) as caught:
        build_call(binding, {}, base_path="", auth=None)
    assert caught.value.code == -32602


def test_a_header_argument_with_a_line_break_is_refused() -> None:
    binding = {"method": "GET", "path": "/", "parameters": [parameter("X-A", "header")]}
    with pytest.raises(JsonRpcError):
        build_call(binding, {"X-A": "a\r\nX-Evil: 1"}, base_path="", auth=None)


def test_a_json_object_answer_is_text_and_structured_content() -> None:
    result = tool_result(200, "application/json", b'{"city":"Paris"}')
    assert result == {
        "content": [{"type": "text", "text": '{"city":"Paris"}'}],
        "structuredContent": {"city": "Paris"},
    }


def test_a_text_answer_is_only_text() -> None:
    assert tool_result(200, "text/plain", b"ok") == {"content": [{"type": "text", "text": "ok"}]}


def test_an_http_error_is_a_tool_error_naming_the_status_and_quoting_the_body() -> None:
    result = tool_result(400, "application/json", b'{"error":"city is required"}' + b" " * 5000)
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith('The API answered HTTP 400: {"error":"city is required"}')
    assert len(text) < 2100
