"""HTTP routes for APIs, their tools and lifecycle (`/v1/tenants/{tenant}/apis`), and the
consumer catalog (`/v1/catalog`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from stoa.controlplane.catalog import service, upstream_source
from stoa.controlplane.catalog.lifecycle import Lifecycle
from stoa.controlplane.catalog.schemas import (
    ApiCreate,
    ApiDetail,
    ApiKind,
    ApiOut,
    ApiUpdate,
    CatalogEntry,
    LifecycleMove,
    ToolOut,
    ToolRefresh,
    ToolUpdate,
    Visibility,
)
from stoa.controlplane.dependencies import (
    CatalogDeleter,
    CatalogReader,
    CatalogWriter,
    CurrentPrincipal,
    Pagination,
    RuntimeDep,
    Session,
)
from stoa.controlplane.pagination import Page
from stoa.kit.ssrf import SafeFetcher


async def get_upstream(runtime: RuntimeDep) -> AsyncIterator[upstream_source.Upstream]:
    """A fetcher for this request's upstream reads, closed when the request ends."""
    async with SafeFetcher(runtime.fetch_policy) as fetcher:
        yield upstream_source.Upstream(fetcher=fetcher, secret_box=runtime.secret_box)


Upstream = Annotated[upstream_source.Upstream, Depends(get_upstream)]
ApiName = Annotated[str, Path(description="The API's name", max_length=63)]
ToolName = Annotated[str, Path(description="The tool's name within its API", max_length=128)]
Search = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Part of the name or title")
]

apis_router = APIRouter(prefix="/v1/tenants/{tenant}/apis", tags=["apis"])
catalog_router = APIRouter(prefix="/v1/catalog", tags=["catalog"])


@apis_router.get("", response_model=Page[ApiOut])
async def list_apis(
    scope: CatalogReader,
    session: Session,
    page: Pagination,
    kind: Annotated[ApiKind | None, Query()] = None,
    lifecycle: Annotated[Lifecycle | None, Query()] = None,
    visibility: Annotated[Visibility | None, Query()] = None,
    q: Search = None,
) -> Page[ApiOut]:
    items, cursor = await service.list_apis(
        session,
        scope.principal,
        scope.tenant,
        page,
        kind=kind,
        lifecycle=lifecycle,
        visibility=visibility,
        q=q,
    )
    return Page(items=[ApiOut.model_validate(a) for a in items], next_cursor=cursor)


@apis_router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiDetail)
async def create_api(
    body: ApiCreate, scope: CatalogWriter, session: Session, upstream: Upstream
) -> ApiDetail:
    """Create a draft API. `rest`: `backend_url` and the OpenAPI document (`openapi`) or its
    URL (`openapi_url`), one tool per operation. `mcp`: `mcp_url`, whose tools are discovered
    by calling the server with the upstream credential. An unusable document or upstream
    is a 422 and creates nothing."""
    created = await service.create_api(session, scope.principal, scope.tenant, body, upstream)
    return ApiDetail.model_validate(created)


@apis_router.get("/{api}", response_model=ApiDetail)
async def get_api(api: ApiName, scope: CatalogReader, session: Session) -> ApiDetail:
    found = await service.get_api(session, scope.principal, scope.tenant, api)
    return ApiDetail.model_validate(found)


@apis_router.patch("/{api}", response_model=ApiDetail)
async def update_api(
    api: ApiName, body: ApiUpdate, scope: CatalogWriter, session: Session, upstream: Upstream
) -> ApiDetail:
    """Change the fields given; `upstream_auth: null` removes the credential. A new
    document or `mcp_url` re-derives the tools, keeping surviving tools' enabled flag."""
    updated = await service.update_api(session, scope.principal, scope.tenant, api, body, upstream)
    return ApiDetail.model_validate(updated)


@apis_router.delete("/{api}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_api(api: ApiName, scope: CatalogDeleter, session: Session) -> None:
    """Delete the API and its tools; refused while it has pending, active or suspended
    subscriptions."""
    await service.delete_api(session, scope.principal, scope.tenant, api)


@apis_router.post("/{api}/lifecycle", response_model=ApiDetail)
async def move_lifecycle(
    api: ApiName, body: LifecycleMove, scope: CatalogWriter, session: Session
) -> ApiDetail:
    """Move the API: draft → published (needs an enabled tool), published → deprecated,
    deprecated → published, draft | published | deprecated → retired (final)."""
    moved = await service.move_lifecycle(session, scope.principal, scope.tenant, api, body.to)
    return ApiDetail.model_validate(moved)


@apis_router.get("/{api}/tools", response_model=Page[ToolOut])
async def list_tools(
    api: ApiName,
    scope: CatalogReader,
    session: Session,
    page: Pagination,
    enabled: Annotated[bool | None, Query()] = None,
) -> Page[ToolOut]:
    items, cursor = await service.list_tools(
        session, scope.principal, scope.tenant, api, page, enabled=enabled
    )
    return Page(items=[ToolOut.model_validate(t) for t in items], next_cursor=cursor)


@apis_router.post("/{api}/tools/refresh", response_model=ToolRefresh)
async def refresh_tools(
    api: ApiName, scope: CatalogWriter, session: Session, upstream: Upstream
) -> ToolRefresh:
    """Read the tools again from the OpenAPI document's URL or the MCP server and reconcile:
    surviving tools keep their enabled flag, vanished ones are deleted, new ones added."""
    refreshed = await service.refresh_tools(session, scope.principal, scope.tenant, api, upstream)
    return ToolRefresh.model_validate(refreshed)


@apis_router.get("/{api}/tools/{tool}", response_model=ToolOut)
async def get_tool(api: ApiName, tool: ToolName, scope: CatalogReader, session: Session) -> ToolOut:
    found = await service.get_tool(session, scope.principal, scope.tenant, api, tool)
    return ToolOut.model_validate(found)


@apis_router.patch("/{api}/tools/{tool}", response_model=ToolOut)
async def update_tool(
    api: ApiName, tool: ToolName, body: ToolUpdate, scope: CatalogWriter, session: Session
) -> ToolOut:
    """Enable or disable the tool; disabled tools are neither listed nor callable."""
    changed = await service.set_tool_enabled(
        session, scope.principal, scope.tenant, api, tool, body.enabled
    )
    return ToolOut.model_validate(changed)


@catalog_router.get("", response_model=Page[CatalogEntry])
async def list_catalog(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    kind: Annotated[ApiKind | None, Query()] = None,
    q: Search = None,
    tenant: Annotated[str | None, Query(max_length=63, description="Tenant slug")] = None,
) -> Page[CatalogEntry]:
    """Published and deprecated APIs offered to you: public APIs of every active tenant and
    your own tenant's, each with its enabled tools and its tenant's plans."""
    items, cursor = await service.list_catalog(
        session, principal, page, kind=kind, q=q, tenant=tenant
    )
    return Page(items=[CatalogEntry.model_validate(e) for e in items], next_cursor=cursor)


@catalog_router.get("/{tenant}/{api}", response_model=CatalogEntry)
async def get_catalog_entry(
    tenant: Annotated[str, Path(max_length=63, description="Tenant slug")],
    api: ApiName,
    session: Session,
    principal: CurrentPrincipal,
) -> CatalogEntry:
    found = await service.catalog_entry(session, principal, tenant, api)
    return CatalogEntry.model_validate(found)


router = APIRouter()
router.include_router(apis_router)
router.include_router(catalog_router)
