"""Seeders and real upstreams for the catalog tests.

`running_upstreams()` serves, on loopback, the demo weather REST API (with its OpenAPI
document), the demo toolbox MCP server twice more behind a required credential (one as a
header, one as a query parameter), and an OpenAPI document server whose document a test
can replace. The document is served a second time behind a
required header. The row seeders write APIs, tools, plans and subscriptions directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from stoa.controlplane.models import Api, Application, Plan, Subscription, Tool, User
from stoa.controlplane.models.base import utcnow
from stoa.demo.toolbox import TOOLBOX_MCP_PATH, create_toolbox_app
from stoa.demo.weather import create_weather_app
from stoa.kit.ids import new_id
from support.servers import ServerThread
from support.world import World

UPSTREAM_KEY = "toolbox-key-7f3a9c"
"""The credential the guarded toolboxes demand."""


def _guarded(app: ASGIApp, *, header: str | None = None, query: str | None = None) -> ASGIApp:
    """`app` behind a check: HTTP requests without `UPSTREAM_KEY` in the given header or
    query parameter get 401."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            presented = (
                request.headers.get(header) if header else request.query_params.get(query or "")
            )
            if presented != UPSTREAM_KEY:
                await JSONResponse({"error": "missing key"}, status_code=401)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guard


class DocumentServer:
    """Serves `document` (replaceable by the test) at `/openapi.json`."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def app(self) -> Starlette:
        async def serve(_request: Request) -> Response:
            return Response(json.dumps(self.document), media_type="application/json")

        return Starlette(routes=[Route("/openapi.json", serve, methods=["GET"])])


def openapi_document(*operations: tuple[str, str, str]) -> dict[str, Any]:
    """A minimal OpenAPI 3.1 document with one GET operation per (path, operationId,
    summary)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Test", "version": "1.0.0"},
        "paths": {
            path: {"get": {"operationId": operation_id, "summary": summary, "responses": {}}}
            for path, operation_id, summary in operations
        },
    }


@dataclass(frozen=True)
class Upstreams:
    weather_url: str
    weather_openapi_url: str
    toolbox_mcp_url: str
    header_guarded_mcp_url: str  # demands header X-Upstream-Key: UPSTREAM_KEY
    query_guarded_mcp_url: str  # demands ?key=UPSTREAM_KEY
    documents: DocumentServer
    document_url: str
    guarded_document_url: str  # the same document, demanding header X-Upstream-Key


@contextmanager
def running_upstreams() -> Iterator[Upstreams]:
    documents = DocumentServer(openapi_document(("/items", "listItems", "List items")))
    with ExitStack() as stack:

        def serve(app: ASGIApp, ready_path: str) -> str:
            server = ServerThread(app, ready_path=ready_path).start()
            stack.callback(server.stop)
            return server.url

        weather = serve(create_weather_app(), "/openapi.yaml")
        toolbox = serve(create_toolbox_app(), "/")
        by_header = serve(_guarded(create_toolbox_app(), header="x-upstream-key"), "/")
        by_query = serve(_guarded(create_toolbox_app(), query="key"), "/")
        document_host = serve(documents.app(), "/openapi.json")
        guarded_document_host = serve(_guarded(documents.app(), header="x-upstream-key"), "/")
        yield Upstreams(
            weather_url=weather,
            weather_openapi_url=f"{weather}/openapi.yaml",
            toolbox_mcp_url=f"{toolbox}{TOOLBOX_MCP_PATH}",
            header_guarded_mcp_url=f"{by_header}{TOOLBOX_MCP_PATH}",
            query_guarded_mcp_url=f"{by_query}{TOOLBOX_MCP_PATH}",
            documents=documents,
            document_url=f"{document_host}/openapi.json",
            guarded_document_url=f"{guarded_document_host}/openapi.json",
        )


def _tenant_id(world: World, slug: str) -> str:
    try:
        return world.tenant_id(slug)
    except KeyError:
        return world.tenant(slug)


def api(
    world: World,
    tenant_slug: str,
    name: str,
    *,
    kind: str = "rest",
    visibility: str = "public",
    lifecycle: str = "published",
    tools: Sequence[str] = ("get",),
    disabled: Sequence[str] = (),
    mcp_url: str | None = None,
    title: str | None = None,
) -> str:
    """An API with `tools` (those in `disabled` disabled) in `tenant_slug` (created if new);
    returns its id. REST APIs point at a closed port; MCP APIs at `mcp_url`."""
    tenant_id = _tenant_id(world, tenant_slug)
    api_id = new_id("api")
    rows: list[Any] = [
        Api(
            id=api_id,
            tenant_id=tenant_id,
            name=name,
            title=title or name.title(),
            description=f"The {name} API",
            kind=kind,
            visibility=visibility,
            lifecycle=lifecycle,
            backend_url="http://127.0.0.1:9" if kind == "rest" else None,
            mcp_url=mcp_url if kind == "mcp" else None,
            published_at=None if lifecycle == "draft" else utcnow(),
        )
    ]
    for tool in tools:
        rows.append(
            Tool(
                id=new_id("tool"),
                api_id=api_id,
                tenant_id=tenant_id,
                name=tool,
                description=f"old description of {tool}",
                input_schema={"type": "object"},
                annotations={},
                enabled=tool not in disabled,
            )
        )
    world._run(*rows)
    return api_id


def plan(
    world: World,
    tenant_slug: str,
    name: str,
    *,
    per_minute: int | None = None,
    requires_approval: bool = False,
    tool_allowlist: list[str] | None = None,
) -> str:
    """A plan of `tenant_slug` (created if new); returns its id."""
    plan_id = new_id("pln")
    world._run(
        Plan(
            id=plan_id,
            tenant_id=_tenant_id(world, tenant_slug),
            name=name,
            per_minute=per_minute,
            requires_approval=requires_approval,
            tool_allowlist=tool_allowlist,
        )
    )
    return plan_id


def subscription(world: World, tenant_slug: str, api_id: str, *, status: str) -> str:
    """A subscription with `status` to the API `api_id` of `tenant_slug`, from a fresh
    consumer's application under a fresh plan; returns its id."""
    tenant_id = _tenant_id(world, tenant_slug)
    owner_id, application_id, plan_id, subscription_id = (
        new_id(prefix) for prefix in ("usr", "app", "pln", "sub")
    )
    world._run(
        User(id=owner_id, email=f"{owner_id}@consumer.test", name="consumer", kind="human"),
        Application(id=application_id, owner_id=owner_id, tenant_id=None, name="consumer app"),
        Plan(id=plan_id, tenant_id=tenant_id, name=f"plan-{plan_id[-6:].lower()}"),
        Subscription(
            id=subscription_id,
            application_id=application_id,
            api_id=api_id,
            plan_id=plan_id,
            tenant_id=tenant_id,
            status=status,
        ),
    )
    return subscription_id
