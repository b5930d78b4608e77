"""REST calls are rolled up by the operation they called, not by the path with its ids."""

from __future__ import annotations

from stoa.controlplane.usage.operations import OperationNames, is_rest_route

USERS = OperationNames(
    [
        ("getUser", {"method": "GET", "path": "/users/{id}"}),
        ("getMe", {"method": "GET", "path": "/users/me"}),
        ("deleteUser", {"method": "delete", "path": "/users/{id}"}),
        ("listOrders", {"method": "GET", "path": "/users/{id}/orders"}),
        ("mcpTool", None),
    ]
)


def test_paths_with_ids_are_named_by_their_operation() -> None:
    assert USERS.name_of("GET /users/42") == "getUser"
    assert USERS.name_of("GET /users/a%20b") == "getUser"
    assert USERS.name_of("DELETE /users/42") == "deleteUser"
    assert USERS.name_of("GET /users/42/orders") == "listOrders"
    assert USERS.name_of("GET /users/42/") == "getUser"


def test_the_most_literal_template_wins() -> None:
    assert USERS.name_of("GET /users/me") == "getMe"


def test_calls_matching_no_operation_are_counted_together_per_method() -> None:
    assert USERS.name_of("GET /nothing/here") == "GET (no operation)"
    assert USERS.name_of("PUT /users/42") == "PUT (no operation)"
    assert USERS.name_of("GET /users/42/orders/7") == "GET (no operation)"
    assert USERS.known
    assert not OperationNames([("echo", None)]).known


def test_only_rest_routes_are_renamed() -> None:
    assert is_rest_route("GET /users/42")
    assert not is_rest_route("toolbox__echo")
    assert not is_rest_route("weird name with spaces")
