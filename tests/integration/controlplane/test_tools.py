"""Tools of an API: listing, enabling and disabling, and refreshing them from the real
upstream (an OpenAPI document URL, or an MCP server) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from stoa.controlplane.models import AuditEntry
from support import seed_catalog
from support.seed_catalog import Upstreams, openapi_document, running_upstreams
from support.seed_consumer import rows
from support.servers import free_port
from support.world import World

APIS = "/v1/tenants/acme/apis"


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with running_upstreams() as running:
        yield running


def tools_by_name(response: Any) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {tool["name"]: tool for tool in response.json()["tools"]}


def test_tools_are_listed_filtered_read_and_toggled(world: World, upstreams: Upstreams) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    created = devops.post(
        APIS,
        json={"name": "toolbox", "title": "T", "kind": "mcp", "mcp_url": upstreams.toolbox_mcp_url},
    )
    assert created.status_code == 201, created.text

    disabled = devops.patch(f"{APIS}/toolbox/tools/fail", json={"enabled": False})
    assert disabled.status_code == 200
    assert disabled.json()["enabled"] is False
    listed = devops.get(f"{APIS}/toolbox/tools").json()["items"]
    assert sorted((t["name"], t["enabled"]) for t in listed) == [
        ("add", True),
        ("echo", True),
        ("fail", False),
    ]
    enabled = devops.get(f"{APIS}/toolbox/tools", params={"enabled": True}).json()["items"]
    assert sorted(t["name"] for t in enabled) == ["add", "echo"]
    only_disabled = devops.get(f"{APIS}/toolbox/tools", params={"enabled": False}).json()
    assert [t["name"] for t in only_disabled["items"]] == ["fail"]
    assert devops.get(f"{APIS}/toolbox").json()["tools"] == {"total": 3, "enabled": 2}

    missing = devops.get(f"{APIS}/toolbox/tools/nope")
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]
    assert devops.get(f"{APIS}/other/tools").status_code == 404

    # Setting the flag a tool already has changes nothing and records nothing.
    devops.patch(f"{APIS}/toolbox/tools/fail", json={"enabled": False})
    actions = rows(world, select(AuditEntry.action).order_by(AuditEntry.seq))
    assert actions == ["api.create", "tool.disable"]


def test_refresh_reconciles_a_rest_api_with_its_document_url(
    world: World, upstreams: Upstreams
) -> None:
    upstreams.documents.document = openapi_document(
        ("/items", "listItems", "List items"),
        ("/items/{id}", "getItem", "Get an item"),
        ("/old", "oldThing", "Soon gone"),
    )
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    created = devops.post(
        APIS,
        json={
            "name": "items",
            "title": "Items",
            "kind": "rest",
            "backend_url": "http://127.0.0.1:9",
            "openapi_url": upstreams.document_url,
        },
    )
    assert created.status_code == 201, created.text
    devops.patch(f"{APIS}/items/tools/getItem", json={"enabled": False})

    upstreams.documents.document = openapi_document(
        ("/items", "listItems", "List every item"),
        ("/items/{id}", "getItem", "Get an item"),
        ("/new", "newThing", "Just arrived"),
    )
    refreshed = devops.post(f"{APIS}/items/tools/refresh")
    tools = tools_by_name(refreshed)
    assert (refreshed.json()["added"], refreshed.json()["removed"]) == (1, 1)
    assert refreshed.json()["updated"] == 1
    assert sorted(tools) == ["getItem", "listItems", "newThing"]
    assert tools["getItem"]["enabled"] is False
    assert tools["newThing"]["enabled"] is True
    assert tools["listItems"]["description"] == "List every item"
    assert "/new" in devops.get(f"{APIS}/items").json()["openapi"]["paths"]

    [entry] = rows(world, select(AuditEntry).where(AuditEntry.action == "api.refresh"))
    assert entry.before["tools"] == ["getItem", "listItems", "oldThing"]
    assert entry.after["tools"] == ["getItem", "listItems", "newThing"]
    assert (entry.after["tools_added"], entry.after["tools_removed"]) == (
        ["newThing"],
        ["oldThing"],
    )

    again = devops.post(f"{APIS}/items/tools/refresh").json()
    assert (again["added"], again["removed"], again["updated"]) == (0, 0, 0)


def test_refresh_rediscovers_an_mcp_servers_tools(world: World, upstreams: Upstreams) -> None:
    seed_catalog.api(
        world,
        "acme",
        "toolbox",
        kind="mcp",
        mcp_url=upstreams.toolbox_mcp_url,
        tools=["echo", "retired-tool"],
        disabled=["echo"],
    )
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    refreshed = devops.post(f"{APIS}/toolbox/tools/refresh")
    tools = tools_by_name(refreshed)
    body = refreshed.json()
    assert (body["added"], body["removed"], body["updated"]) == (2, 1, 1)
    assert sorted(tools) == ["add", "echo", "fail"]
    assert tools["echo"]["enabled"] is False
    assert tools["echo"]["description"] == "Return the text unchanged"


def test_a_failed_refresh_changes_nothing(world: World) -> None:
    seed_catalog.api(
        world,
        "acme",
        "gone",
        kind="mcp",
        mcp_url=f"http://127.0.0.1:{free_port()}/mcp",
        tools=["echo"],
    )
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    devops.post(APIS, json=_inline_rest("inline"))

    unreachable = devops.post(f"{APIS}/gone/tools/refresh")
    assert unreachable.status_code == 422
    assert unreachable.json()["detail"].startswith("mcp_url:")
    assert [t["name"] for t in devops.get(f"{APIS}/gone/tools").json()["items"]] == ["echo"]

    inline = devops.post(f"{APIS}/inline/tools/refresh")
    assert inline.status_code == 409
    assert "PATCH" in inline.json()["detail"]


def test_roles_decide_who_reads_and_changes_tools(world: World) -> None:
    seed_catalog.api(world, "acme", "weather", tools=["get"])
    world.tenant("globex")
    viewer = world.user("eye@acme.test", tenant="acme", roles=["viewer"])
    developer = world.user("dev@acme.test", tenant="acme")
    outsider = world.user("ops@globex.test", tenant="globex", roles=["devops"])
    admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    toggle = {"enabled": False}

    assert viewer.get(f"{APIS}/weather/tools").status_code == 200
    assert viewer.get(f"{APIS}/weather/tools/get").status_code == 200
    assert viewer.patch(f"{APIS}/weather/tools/get", json=toggle).status_code == 403
    assert viewer.post(f"{APIS}/weather/tools/refresh").status_code == 403
    assert developer.get(f"{APIS}/weather/tools").status_code == 403
    assert outsider.get(f"{APIS}/weather/tools").status_code == 404
    assert outsider.patch(f"{APIS}/weather/tools/get", json=toggle).status_code == 404
    assert admin.patch(f"{APIS}/weather/tools/get", json=toggle).json()["enabled"] is False
    assert admin.patch(f"{APIS}/weather/tools/get", json={"enabled": "maybe"}).status_code == 422


def _inline_rest(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": name.title(),
        "kind": "rest",
        "backend_url": "http://127.0.0.1:9",
        "openapi": openapi_document(("/items", "listItems", "List items")),
    }
