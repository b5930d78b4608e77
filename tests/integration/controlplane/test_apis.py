"""APIs of a tenant through the real API, against real upstreams on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from stoa.controlplane.models import Api, AuditEntry
from stoa.demo.weather import WEATHER_OPENAPI_PATH
from support import seed_catalog
from support.seed_catalog import UPSTREAM_KEY, Upstreams, openapi_document, running_upstreams
from support.seed_consumer import rows
from support.servers import free_port
from support.world import Caller, World

APIS = "/v1/tenants/acme/apis"


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with running_upstreams() as running:
        yield running


def rest_api(name: str, *operations: tuple[str, str, str], **fields: Any) -> dict[str, Any]:
    """A create body for a rest API with an inline document (one GET per operation)."""
    return {
        "name": name,
        "title": name.title(),
        "kind": "rest",
        "backend_url": "http://127.0.0.1:9",
        "openapi": openapi_document(*(operations or [("/items", "listItems", "List items")])),
        **fields,
    }


def tool_names(caller: Caller, api: str, **params: Any) -> list[str]:
    response = caller.get(f"{APIS}/{api}/tools", params=params)
    assert response.status_code == 200, response.text
    return sorted(tool["name"] for tool in response.json()["items"])


def test_rest_api_from_an_inline_document_is_a_draft_with_one_tool_per_operation(
    world: World,
) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    created = devops.post(
        APIS,
        json={
            "name": "weather",
            "title": "Weather",
            "kind": "rest",
            "backend_url": "http://127.0.0.1:9",
            "openapi": WEATHER_OPENAPI_PATH.read_text(),
        },
    )
    assert created.status_code == 201, created.text
    api = created.json()
    assert (api["lifecycle"], api["visibility"], api["version"]) == ("draft", "tenant", "1.0.0")
    assert api["tools"] == {"total": 2, "enabled": 2}
    assert api["openapi"]["paths"]["/forecast"]["get"]["operationId"] == "getForecast"
    assert api["upstream_auth"] is None
    assert api["published_at"] is None
    assert tool_names(devops, "weather") == ["createAlert", "getForecast"]

    from_object = devops.post(APIS, json=rest_api("items", ("/items", "listItems", "List")))
    assert from_object.status_code == 201, from_object.text
    assert tool_names(devops, "items") == ["listItems"]

    again = devops.post(APIS, json=rest_api("weather"))
    assert again.status_code == 409
    assert "weather" in again.json()["detail"]


def test_rest_api_from_a_document_url_fetches_and_keeps_the_document(
    world: World, upstreams: Upstreams
) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    created = devops.post(
        APIS,
        json={
            "name": "weather",
            "title": "Weather",
            "kind": "rest",
            "backend_url": upstreams.weather_url,
            "openapi_url": upstreams.weather_openapi_url,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["openapi_url"] == upstreams.weather_openapi_url
    fetched = devops.get(f"{APIS}/weather").json()
    assert fetched["openapi"]["info"]["title"]
    forecast = devops.get(f"{APIS}/weather/tools/getForecast").json()
    assert forecast["binding"]["method"] == "GET"
    assert "city" in forecast["input_schema"]["properties"]


def test_mcp_api_discovers_the_servers_tools(world: World, upstreams: Upstreams) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    created = devops.post(
        APIS,
        json={
            "name": "toolbox",
            "title": "Toolbox",
            "kind": "mcp",
            "mcp_url": upstreams.toolbox_mcp_url,
            "visibility": "public",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["tools"] == {"total": 3, "enabled": 3}
    assert created.json()["openapi"] is None
    assert tool_names(devops, "toolbox") == ["add", "echo", "fail"]
    echo = devops.get(f"{APIS}/toolbox/tools/echo").json()
    assert echo["input_schema"]["properties"]["text"]["type"] == "string"
    assert echo["binding"] is None
    add = devops.get(f"{APIS}/toolbox/tools/add").json()
    assert add["annotations"]["readOnlyHint"] is True


def test_upstream_credential_reaches_the_upstream_is_stored_encrypted_and_never_returned(
    world: World, upstreams: Upstreams
) -> None:
    admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    guarded = {
        "name": "guarded",
        "title": "Guarded",
        "kind": "mcp",
        "mcp_url": upstreams.header_guarded_mcp_url,
    }
    without = admin.post(APIS, json=guarded)
    assert without.status_code == 422
    assert without.json()["detail"].startswith("mcp_url:")

    credential = {"location": "header", "name": "X-Upstream-Key", "secret": UPSTREAM_KEY}
    created = admin.post(APIS, json={**guarded, "upstream_auth": credential})
    assert created.status_code == 201, created.text
    assert created.json()["tools"]["total"] == 3
    assert created.json()["upstream_auth"] == {
        "location": "header",
        "name": "X-Upstream-Key",
        "configured": True,
    }
    by_query = admin.post(
        APIS,
        json={
            "name": "by-query",
            "title": "By query",
            "kind": "mcp",
            "mcp_url": upstreams.query_guarded_mcp_url,
            "upstream_auth": {"location": "query", "name": "key", "secret": UPSTREAM_KEY},
        },
    )
    assert by_query.status_code == 201, by_query.text

    shown = [created.text, by_query.text, admin.get(APIS).text, admin.get(f"{APIS}/guarded").text]
    assert not any(UPSTREAM_KEY in text for text in shown)
    stored = rows(world, select(Api.upstream_auth_secret).where(Api.name == "guarded"))[0]
    assert stored.startswith("v1.")
    assert UPSTREAM_KEY not in stored
    audit = rows(world, select(AuditEntry))
    assert not any(UPSTREAM_KEY in json.dumps([e.before, e.after]) for e in audit)

    cleared = admin.patch(f"{APIS}/guarded", json={"upstream_auth": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["upstream_auth"] is None
    assert rows(world, select(Api.upstream_auth_secret).where(Api.name == "guarded")) == [None]


def test_the_credential_goes_to_the_document_url_only_on_the_backends_origin(
    world: World, upstreams: Upstreams
) -> None:
    upstreams.documents.document = openapi_document(("/items", "listItems", "List items"))
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    document_origin = upstreams.guarded_document_url.removesuffix("/openapi.json")
    body = {
        "name": "items",
        "title": "Items",
        "kind": "rest",
        "openapi_url": upstreams.guarded_document_url,
        "upstream_auth": {"location": "header", "name": "X-Upstream-Key", "secret": UPSTREAM_KEY},
    }
    elsewhere = devops.post(APIS, json={**body, "backend_url": "http://127.0.0.1:9"})
    assert elsewhere.status_code == 422
    assert "HTTP 401" in elsewhere.json()["detail"]

    same_origin = devops.post(APIS, json={**body, "backend_url": f"{document_origin}/v1"})
    assert same_origin.status_code == 201, same_origin.text
    assert tool_names(devops, "items") == ["listItems"]


def test_a_bad_document_is_refused_with_what_to_fix_and_nothing_is_written(
    world: World,
) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    broken = devops.post(APIS, json=rest_api("broken", openapi="openapi: [3.1\npaths: {"))
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"
    assert broken.json()["detail"].startswith("openapi:")
    assert broken.json()["errors"][0]["field"].startswith("openapi")

    swagger = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    assert devops.post(APIS, json=rest_api("old", openapi=swagger)).status_code == 422

    assert devops.get(APIS).json()["items"] == []
    assert rows(world, select(Api.id)) == []


def test_unreachable_or_unsafe_upstreams_are_refused_and_nothing_is_written(
    world: World,
) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    closed = f"http://127.0.0.1:{free_port()}"
    mcp = {"name": "gone", "title": "Gone", "kind": "mcp"}

    unreachable = devops.post(APIS, json={**mcp, "mcp_url": f"{closed}/mcp"})
    assert unreachable.status_code == 422
    assert unreachable.json()["type"].endswith("/upstream-unusable")
    assert f"{closed}/mcp" in unreachable.json()["detail"]
    no_document = devops.post(
        APIS,
        json={**rest_api("doc"), "openapi": None, "openapi_url": f"{closed}/openapi.json"},
    )
    assert no_document.status_code == 422
    assert no_document.json()["detail"].startswith("openapi_url:")

    metadata = "http://169.254.169.254/latest/meta-data"
    for body in (
        {**mcp, "mcp_url": metadata},
        rest_api("meta", backend_url=metadata),
        {**rest_api("meta"), "openapi": None, "openapi_url": metadata},
    ):
        refused = devops.post(APIS, json=body)
        assert refused.status_code == 422, body
        assert refused.json()["type"].endswith("/unsafe-url")
        assert "169.254.169.254" in refused.json()["detail"]
    not_http = devops.post(APIS, json=rest_api("ftp", backend_url="ftp://files.example/"))
    assert not_http.status_code == 422
    assert "http://" in not_http.json()["detail"]

    assert rows(world, select(Api.id)) == []


def test_fields_must_fit_the_kind(world: World) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    cases = [
        ({**rest_api("a"), "backend_url": None}, "backend_url"),
        ({**rest_api("a"), "openapi_url": "http://127.0.0.1:9/o.json"}, "openapi"),
        ({**rest_api("a"), "openapi": None}, "openapi"),
        ({**rest_api("a"), "mcp_url": "http://127.0.0.1:9/mcp"}, "mcp_url"),
        ({"name": "a", "title": "A", "kind": "mcp"}, "mcp_url"),
        ({**rest_api("a"), "kind": "mcp", "mcp_url": "http://127.0.0.1:9/mcp"}, "openapi"),
    ]
    for body, field in cases:
        response = devops.post(APIS, json=body)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == field, response.json()
    bad_name = devops.post(APIS, json=rest_api("Bad_Name"))
    assert bad_name.json()["errors"][0]["field"] == "name"


def test_update_replaces_the_document_and_reconciles_the_tools(world: World) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    devops.post(APIS, json=rest_api("items", ("/a", "keep", "Keep"), ("/b", "vanish", "Vanish")))
    devops.patch(f"{APIS}/items/tools/keep", json={"enabled": False})

    updated = devops.patch(
        f"{APIS}/items",
        json={
            "title": "Items v2",
            "version": "2.0.0",
            "visibility": "public",
            "openapi": openapi_document(("/a", "keep", "Keep, reworded"), ("/c", "fresh", "New")),
        },
    )
    assert updated.status_code == 200, updated.text
    api = updated.json()
    assert (api["title"], api["version"], api["visibility"]) == ("Items v2", "2.0.0", "public")
    assert api["tools"] == {"total": 2, "enabled": 1}
    keep = devops.get(f"{APIS}/items/tools/keep").json()
    assert (keep["enabled"], keep["description"]) == (False, "Keep, reworded")
    assert tool_names(devops, "items", enabled=True) == ["fresh"]
    assert devops.get(f"{APIS}/items/tools/vanish").status_code == 404

    wrong_kind = devops.patch(f"{APIS}/items", json={"mcp_url": "http://127.0.0.1:9/mcp"})
    assert wrong_kind.status_code == 422
    broken = devops.patch(f"{APIS}/items", json={"openapi": "{", "title": "Lost"})
    assert broken.status_code == 422
    assert devops.get(f"{APIS}/items").json()["title"] == "Items v2"


def test_lifecycle_moves_follow_the_table(world: World) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    devops.post(APIS, json=rest_api("items"))

    def move(to: str) -> Any:
        return devops.post(f"{APIS}/items/lifecycle", json={"to": to})

    published = move("published")
    assert published.status_code == 200, published.text
    assert published.json()["lifecycle"] == "published"
    first_published_at = published.json()["published_at"]
    assert first_published_at is not None

    again = move("published")
    assert again.status_code == 409
    assert again.json()["allowed"] == ["deprecated", "retired"]
    back = move("draft")
    assert back.status_code == 409
    assert "deprecated, retired" in back.json()["detail"]

    assert move("deprecated").json()["lifecycle"] == "deprecated"
    undeprecated = move("published").json()
    assert undeprecated["lifecycle"] == "published"
    assert undeprecated["published_at"] == first_published_at
    assert move("retired").json()["lifecycle"] == "retired"
    final = move("published")
    assert final.status_code == 409
    assert "retired is final" in final.json()["detail"]
    assert devops.patch(f"{APIS}/items", json={"title": "X"}).status_code == 409

    actions = rows(world, select(AuditEntry.action).order_by(AuditEntry.seq))
    assert actions == [
        "api.create",
        "api.publish",
        "api.deprecate",
        "api.undeprecate",
        "api.retire",
    ]


def test_publishing_needs_an_enabled_tool(world: World) -> None:
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    devops.post(APIS, json=rest_api("items"))
    devops.patch(f"{APIS}/items/tools/listItems", json={"enabled": False})
    refused = devops.post(f"{APIS}/items/lifecycle", json={"to": "published"})
    assert refused.status_code == 409
    assert "no enabled tool" in refused.json()["detail"]
    assert devops.get(f"{APIS}/items").json()["lifecycle"] == "draft"

    devops.patch(f"{APIS}/items/tools/listItems", json={"enabled": True})
    assert devops.post(f"{APIS}/items/lifecycle", json={"to": "published"}).status_code == 200


def test_list_filters_by_kind_lifecycle_visibility_and_text(world: World) -> None:
    seed_catalog.api(world, "acme", "weather", title="Weather Forecasts")
    seed_catalog.api(world, "acme", "toolbox", kind="mcp", visibility="tenant")
    seed_catalog.api(world, "acme", "drafty", lifecycle="draft")
    seed_catalog.api(world, "globex", "elsewhere")
    viewer = world.user("eye@acme.test", tenant="acme", roles=["viewer"])

    def names(**params: Any) -> list[str]:
        response = viewer.get(APIS, params=params)
        assert response.status_code == 200, response.text
        return [api["name"] for api in response.json()["items"]]

    assert names() == ["weather", "toolbox", "drafty"]
    assert names(kind="mcp") == ["toolbox"]
    assert names(lifecycle="draft") == ["drafty"]
    assert names(visibility="public") == ["weather", "drafty"]
    assert names(q="FORECAST") == ["weather"]
    assert names(q="box", kind="rest") == []
    assert names(q="box") == ["toolbox"]
    first = viewer.get(APIS, params={"limit": 2}).json()
    rest = viewer.get(APIS, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [a["name"] for a in first["items"] + rest["items"]] == ["weather", "toolbox", "drafty"]
    assert rest["next_cursor"] is None


def test_delete_is_refused_while_the_api_has_live_subscriptions(world: World) -> None:
    busy = seed_catalog.api(world, "acme", "busy")
    seed_catalog.subscription(world, "acme", busy, status="active")
    seed_catalog.subscription(world, "acme", busy, status="revoked")
    idle = seed_catalog.api(world, "acme", "idle")
    seed_catalog.subscription(world, "acme", idle, status="rejected")
    admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])

    refused = admin.delete(f"{APIS}/busy")
    assert refused.status_code == 409
    assert "1 pending, active or suspended" in refused.json()["detail"]
    assert admin.get(f"{APIS}/busy").status_code == 200

    attached = admin.post(
        "/v1/tenants/acme/policies",
        json={
            "name": "idle-bodies",
            "kind": "body_size",
            "target": {"type": "api", "name": "idle"},
            "config": {"max_bytes": 1024},
        },
    )
    assert attached.status_code == 201, attached.text
    assert admin.delete(f"{APIS}/idle").status_code == 204
    assert admin.get(f"{APIS}/idle").status_code == 404
    assert admin.get(f"{APIS}/idle/tools").status_code == 404
    assert admin.get("/v1/tenants/acme/policies/idle-bodies").status_code == 404


def test_roles_decide_who_reads_writes_and_deletes_apis(world: World) -> None:
    seed_catalog.api(world, "acme", "weather", lifecycle="draft")
    world.tenant("globex")
    viewer = world.user("eye@acme.test", tenant="acme", roles=["viewer"])
    devops = world.user("ops@acme.test", tenant="acme", roles=["devops"])
    admin = world.user("boss@acme.test", tenant="acme", roles=["tenant-admin"])
    developer = world.user("dev@acme.test", tenant="acme")
    outsider = world.user("boss@globex.test", tenant="globex", roles=["tenant-admin"])
    root = world.platform_admin()
    publish = {"to": "published"}

    assert viewer.get(APIS).status_code == 200
    assert viewer.get(f"{APIS}/weather").status_code == 200
    assert viewer.post(APIS, json=rest_api("v")).status_code == 403
    assert viewer.patch(f"{APIS}/weather", json={"title": "V"}).status_code == 403
    assert viewer.post(f"{APIS}/weather/lifecycle", json=publish).status_code == 403

    assert devops.post(APIS, json=rest_api("ops")).status_code == 201
    assert devops.patch(f"{APIS}/weather", json={"title": "Ops"}).status_code == 200
    assert devops.post(f"{APIS}/weather/lifecycle", json=publish).status_code == 200
    denied = devops.delete(f"{APIS}/ops")
    assert denied.status_code == 403
    assert "tenant-admin" in denied.json()["detail"]

    assert developer.get(APIS).status_code == 403
    assert developer.get(f"{APIS}/weather").status_code == 403

    for response in (
        outsider.get(APIS),
        outsider.get(f"{APIS}/weather"),
        outsider.post(APIS, json=rest_api("x")),
        outsider.delete(f"{APIS}/weather"),
    ):
        assert response.status_code == 404

    assert root.post(APIS, json=rest_api("root")).status_code == 201
    assert admin.delete(f"{APIS}/ops").status_code == 204
    assert root.delete(f"{APIS}/root").status_code == 204
    assert [a["name"] for a in admin.get(APIS).json()["items"]] == ["weather"]
