"""The consumer catalog: live APIs offered to the caller, with tools and plans."""

from __future__ import annotations

from typing import Any

from support import seed_catalog
from support.world import Caller, World


def listed(caller: Caller, **params: Any) -> list[str]:
    response = caller.get("/v1/catalog", params=params)
    assert response.status_code == 200, response.text
    return [f"{entry['tenant']}/{entry['name']}" for entry in response.json()["items"]]


def seed_landscape(world: World) -> None:
    """APIs of every visibility and lifecycle in an active tenant (acme), another active
    one (globex), a suspended one (initech) and an archived one (hooli)."""
    world.tenant("initech", status="suspended")
    world.tenant("hooli", status="archived")
    seed_catalog.api(world, "acme", "weather")
    seed_catalog.api(world, "acme", "internal", visibility="tenant")
    seed_catalog.api(world, "acme", "drafty", lifecycle="draft")
    seed_catalog.api(world, "acme", "old", lifecycle="retired")
    seed_catalog.api(world, "acme", "legacy", lifecycle="deprecated")
    seed_catalog.api(world, "globex", "maps")
    seed_catalog.api(world, "globex", "secret", visibility="tenant")
    seed_catalog.api(world, "initech", "staplers")
    seed_catalog.api(world, "hooli", "nucleus")


def test_each_caller_sees_live_public_apis_and_their_own_tenants(world: World) -> None:
    seed_landscape(world)
    acme_developer = world.user("dev@acme.test", tenant="acme")
    globex_viewer = world.user("eye@globex.test", tenant="globex", roles=["viewer"])
    initech_developer = world.user("dev@initech.test", tenant="initech")
    root = world.platform_admin()

    assert listed(acme_developer) == ["acme/weather", "acme/internal", "acme/legacy", "globex/maps"]
    assert listed(globex_viewer) == ["acme/weather", "acme/legacy", "globex/maps", "globex/secret"]
    assert listed(initech_developer) == ["acme/weather", "acme/legacy", "globex/maps"]
    assert listed(root) == [
        "acme/weather",
        "acme/internal",
        "acme/legacy",
        "globex/maps",
        "globex/secret",
    ]
    # The developer browses the catalog but not the tenant's API administration.
    assert acme_developer.get("/v1/tenants/acme/apis").status_code == 403
    assert world.anonymous().get("/v1/catalog").status_code == 401


def test_an_entry_outside_the_callers_catalog_is_not_found(world: World) -> None:
    seed_landscape(world)
    developer = world.user("dev@acme.test", tenant="acme")

    assert developer.get("/v1/catalog/acme/internal").status_code == 200
    assert developer.get("/v1/catalog/globex/maps").json()["lifecycle"] == "published"
    assert developer.get("/v1/catalog/acme/legacy").json()["lifecycle"] == "deprecated"
    for hidden in (
        "globex/secret",
        "acme/drafty",
        "acme/old",
        "initech/staplers",
        "hooli/nucleus",
        "acme/nothing",
        "nowhere/weather",
    ):
        response = developer.get(f"/v1/catalog/{hidden}")
        assert response.status_code == 404, hidden
        assert response.headers["content-type"] == "application/problem+json"


def test_an_entry_shows_its_enabled_tools_and_its_tenants_plans(world: World) -> None:
    seed_catalog.api(
        world,
        "acme",
        "weather",
        kind="mcp",
        mcp_url="http://127.0.0.1:9/mcp",
        tools=["forecast", "alerts", "admin"],
        disabled=["admin"],
    )
    seed_catalog.plan(
        world, "acme", "gold", per_minute=600, requires_approval=True, tool_allowlist=["forecast"]
    )
    seed_catalog.plan(world, "acme", "free", per_minute=10)
    seed_catalog.plan(world, "globex", "elsewhere")
    developer = world.user("dev@globex.test", tenant="globex")

    entry = developer.get("/v1/catalog/acme/weather").json()
    assert (entry["tenant"], entry["name"], entry["kind"]) == ("acme", "weather", "mcp")
    assert entry["title"] == "Weather"
    assert [tool["name"] for tool in entry["tools"]] == ["alerts", "forecast"]
    assert entry["tools"][0]["input_schema"] == {"type": "object"}
    assert "binding" not in entry["tools"][0]
    plans = {plan["name"]: plan for plan in entry["plans"]}
    assert sorted(plans) == ["free", "gold"]
    assert plans["gold"]["requires_approval"] is True
    assert plans["gold"]["tool_allowlist"] == ["forecast"]
    assert plans["gold"]["limits"]["per_minute"] == 600
    assert plans["free"]["limits"]["per_day"] is None
    assert plans["free"]["tool_allowlist"] is None

    listed_entry = developer.get("/v1/catalog").json()["items"][0]
    assert listed_entry == entry
    assert "mcp_url" not in entry
    assert "upstream_auth" not in entry


def test_the_catalog_filters_and_pages(world: World) -> None:
    seed_catalog.api(world, "acme", "weather", title="Weather Forecasts")
    seed_catalog.api(world, "acme", "toolbox", kind="mcp", mcp_url="http://127.0.0.1:9/mcp")
    seed_catalog.api(world, "globex", "maps")
    seed_catalog.api(world, "globex", "forecast-archive")
    developer = world.user("dev@acme.test", tenant="acme")

    assert listed(developer, kind="mcp") == ["acme/toolbox"]
    assert listed(developer, q="forecast") == ["acme/weather", "globex/forecast-archive"]
    assert listed(developer, tenant="globex") == ["globex/maps", "globex/forecast-archive"]
    assert listed(developer, tenant="globex", q="MAP") == ["globex/maps"]

    first = developer.get("/v1/catalog", params={"limit": 3}).json()
    assert len(first["items"]) == 3
    rest = developer.get("/v1/catalog", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [e["name"] for e in rest["items"]] == ["forecast-archive"]
    assert rest["next_cursor"] is None
