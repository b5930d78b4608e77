"""The JSON-RPC envelope: what is a request, a notification, and what is refused."""

from __future__ import annotations

import pytest

from stoa.gateway.mcp.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    Incoming,
    JsonRpcError,
    encode,
    error_message,
    parse_body,
)


def test_a_request_is_read_with_its_id_method_and_params() -> None:
    messages, batch = parse_body(b'{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{}}')
    assert not batch
    assert messages == [Incoming("request", "tools/list", 7, {})]


def test_a_message_without_id_is_a_notification() -> None:
    messages, _ = parse_body(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
    assert isinstance(messages[0], Incoming)
    assert messages[0].kind == "notification"


def test_bytes_that_are_not_json_are_a_parse_error_with_http_400() -> None:
    with pytest.raises(JsonRpcError) as caught:
        parse_body(b'{"jsonrpc": "2.0", "id": 1,')
    assert caught.value.code == PARSE_ERROR
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"42",
        b'"tools/list"',
    ],
)
def test_bodies_that_are_no_message_are_invalid_requests(body: bytes) -> None:
    with pytest.raises(JsonRpcError) as caught:
        parse_body(body)
    assert caught.value.code == INVALID_REQUEST


@pytest.mark.parametrize(
    ("body", "request_id"),
    [
        (b'{"jsonrpc":"1.0","id":1,"method":"ping"}', 1),
        (b'{"jsonrpc":"2.0","id":"a","method":""}', "a"),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', None),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', None),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', None),
    ],
)
def test_broken_envelopes_become_invalid_request_errors_keeping_a_readable_id(
    body: bytes, request_id: object
) -> None:
    (message,), _ = parse_body(body)
    assert isinstance(message, JsonRpcError)
    assert message.code == INVALID_REQUEST
    assert message.request_id == request_id


def test_params_that_are_not_an_object_are_invalid_params() -> None:
    (message,), _ = parse_body(b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":[1]}')
    assert isinstance(message, JsonRpcError)
    assert message.code == INVALID_PARAMS
    assert message.request_id == 3


def test_a_batch_keeps_order_and_marks_bad_members() -> None:
    messages, batch = parse_body(
        b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"foo":1},{"jsonrpc":"2.0","id":2,"result":{}}]'
    )
    assert batch
    assert isinstance(messages[0], Incoming)
    assert messages[0].kind == "request"
    assert isinstance(messages[1], JsonRpcError)
    assert isinstance(messages[2], Incoming)
    assert messages[2].kind == "response"


def test_an_error_message_carries_code_message_and_data() -> None:
    error = JsonRpcError(-32005, "Rate limit exceeded", {"retryAfter": 2})
    assert encode(error_message(9, error)) == (
        b'{"jsonrpc":"2.0","id":9,"error":{"code":-32005,"message":"Rate limit exceeded",'
        b'"data":{"retryAfter":2}}}'
    )
