"""Rules for the catalog: APIs (REST APIs described by OpenAPI, or upstream MCP servers),
their tools and lifecycle, and the consumer catalog.

Tenant-scoped functions receive the tenant already resolved and authorized for the action
by the route's scope dependency (`CatalogReader`, `CatalogWriter`, `CatalogDeleter`), so
an API of another tenant is never reached. Tools are derived from the upstream, never
written by hand: from the OpenAPI document (one tool per operation) or from the MCP
server's `tools/list`. Re-deriving them reconciles by name: a surviving tool keeps its
`enabled` flag and id, a vanished one is deleted, a new one is added enabled.

Every upstream read happens before anything is written, through the SSRF-guarded
`SafeFetcher`; an unusable upstream is a 422 and the request writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.catalog import repository
from stoa.controlplane.catalog.lifecycle import move_verb
from stoa.controlplane.catalog.schemas import ApiCreate, ApiUpdate
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.controlplane.catalog.tool_sync import reconcile_tools, tool_names_for_audit
from stoa.controlplane.catalog.upstream_source import (
    Credential,
    Upstream,
    checked_url,
    credential_from,
    invalid,
    mcp_tools,
    openapi_from,
    store_credential,
    stored_credential,
)
from stoa.controlplane.catalog.views import (
    ApiView,
    CatalogPlanView,
    CatalogView,
    RefreshView,
    api_view,
    plan_view,
)
from stoa.controlplane.models import Api, Tenant, Tool
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.policy import service as policies
from stoa.controlplane.principal import Principal
from stoa.kit.errors import Conflict, NotFound
from stoa.kit.ids import new_id


async def _view_of(session: AsyncSession, api: Api) -> ApiView:
    counts = await repository.tool_counts(session, [api.id])
    return api_view(api, counts.get(api.id, (0, 0)))


# --- APIs ----------------------------------------------------------------------------------


async def _api(session: AsyncSession, tenant: Tenant, name: str) -> Api:
    api = await repository.api_named(session, tenant.id, name)
    if api is None:
        raise NotFound(f"api {name} does not exist in tenant {tenant.slug}")
    return api


def _refuse_if_retired(api: Api, doing: str) -> None:
    if api.lifecycle == "retired":
        raise Conflict(f"api {api.name} is retired, which is final; {doing} is not possible")


async def list_apis(
    session: AsyncSession,
    actor: Principal,
    tenant: Tenant,
    page: PageRequest,
    *,
    kind: str | None,
    lifecycle: str | None,
    visibility: str | None,
    q: str | None,
) -> tuple[list[ApiView], str | None]:
    statement = repository.api_listing(
        tenant.id, kind=kind, lifecycle=lifecycle, visibility=visibility, q=q
    )
    apis, cursor = await fetch_page(session, statement, Api.id, page)
    counts = await repository.tool_counts(session, [api.id for api in apis])
    return [api_view(api, counts.get(api.id, (0, 0))) for api in apis], cursor


async def get_api(session: AsyncSession, actor: Principal, tenant: Tenant, name: str) -> ApiView:
    return await _view_of(session, await _api(session, tenant, name))


def _check_create_shape(data: ApiCreate) -> None:
    """Which URLs and documents each kind takes."""
    if data.kind == "rest":
        if data.backend_url is None:
            raise invalid("backend_url", "a rest api needs the base URL of its backend")
        if (data.openapi is None) == (data.openapi_url is None):
            raise invalid(
                "openapi", "a rest api needs exactly one of openapi (the document) or openapi_url"
            )
        if data.mcp_url is not None:
            raise invalid("mcp_url", "only mcp apis have an mcp_url; use backend_url")
    else:
        if data.mcp_url is None:
            raise invalid("mcp_url", "an mcp api needs the URL of its MCP server")
        for name in ("openapi", "openapi_url", "backend_url"):
            if getattr(data, name) is not None:
                raise invalid(name, "an mcp api takes only mcp_url; its tools are discovered")


async def create_api(
    session: AsyncSession, actor: Principal, tenant: Tenant, data: ApiCreate, upstream: Upstream
) -> ApiView:
    """Create a draft API and its tools, read from the OpenAPI document (rest) or the MCP
    server (mcp).

    Raises:
        Conflict: the tenant has an API of that name.
        InvalidInput: fields that do not fit the kind, an invalid document, an unsafe URL.
        UpstreamError: the document or the MCP server cannot be fetched or is unusable.
    """
    if await repository.api_named(session, tenant.id, data.name) is not None:
        raise Conflict(
            f"tenant {tenant.slug} already has an api named {data.name}; choose another name"
        )
    _check_create_shape(data)
    credential = credential_from(data.upstream_auth)
    document: dict[str, Any] | None = None
    backend_url = mcp_url = None
    if data.kind == "rest":
        assert data.backend_url is not None
        backend_url = await checked_url(data.backend_url, "backend_url", upstream.fetcher)
        document, drafts = await openapi_from(
            data.openapi,
            data.openapi_url,
            backend_url=backend_url,
            credential=credential,
            fetcher=upstream.fetcher,
        )
    else:
        assert data.mcp_url is not None
        mcp_url = data.mcp_url.strip()
        drafts = await mcp_tools(mcp_url, credential, upstream.fetcher)
    api = Api(
        id=new_id("api"),
        tenant_id=tenant.id,
        name=data.name,
        title=data.title,
        description=data.description,
        kind=data.kind,
        version=data.version,
        visibility=data.visibility,
        lifecycle="draft",
        openapi=document,
        openapi_url=data.openapi_url.strip() if data.openapi_url else None,
        backend_url=backend_url,
        mcp_url=mcp_url,
    )
    store_credential(api, credential, upstream.secret_box)
    session.add(api)
    await session.flush()
    changes = await reconcile_tools(session, api, drafts)
    await audit.record(
        session,
        actor,
        action="api.create",
        target_type="api",
        target_id=api.id,
        tenant_id=tenant.id,
        after={**audit.snapshot_of(api), "tools": sorted(changes.added)},
    )
    return await _view_of(session, api)


def _check_update_shape(api: Api, data: ApiUpdate) -> None:
    rest_only = ("openapi", "openapi_url", "backend_url")
    for name in rest_only if api.kind == "mcp" else ("mcp_url",):
        if getattr(data, name) is not None:
            raise invalid(name, f"{api.kind} apis have no {name}")
    if data.openapi is not None and data.openapi_url is not None:
        raise invalid("openapi", "give either openapi (the document) or openapi_url, not both")


async def update_api(
    session: AsyncSession,
    actor: Principal,
    tenant: Tenant,
    name: str,
    data: ApiUpdate,
    upstream: Upstream,
) -> ApiView:
    """Change the fields given. A new document (`openapi`, `openapi_url`) or `mcp_url`
    re-derives the tools (see the module docstring); an inline `openapi` drops the
    `openapi_url`, since the document no longer comes from there.

    Raises:
        NotFound, Conflict (retired API), InvalidInput, UpstreamError: as `create_api`.
    """
    api = await _api(session, tenant, name)
    _refuse_if_retired(api, "changing it")
    _check_update_shape(api, data)
    before = audit.snapshot_of(api)
    tools_before = await repository.tools_of(session, api.id)
    credential_changed = "upstream_auth" in data.model_fields_set
    credential: Credential | None = None
    if credential_changed:
        credential = credential_from(data.upstream_auth)
    elif data.openapi_url is not None or data.mcp_url is not None:
        credential = stored_credential(api, upstream.secret_box)
    backend_url = api.backend_url
    if data.backend_url is not None:
        backend_url = await checked_url(data.backend_url, "backend_url", upstream.fetcher)
    drafts: list[ToolDraft] | None = None
    document: dict[str, Any] | None = None
    if data.openapi is not None or data.openapi_url is not None:
        document, drafts = await openapi_from(
            data.openapi,
            data.openapi_url,
            backend_url=backend_url,
            credential=credential,
            fetcher=upstream.fetcher,
        )
    elif data.mcp_url is not None:
        drafts = await mcp_tools(data.mcp_url.strip(), credential, upstream.fetcher)

    # Everything upstream answered; now write.
    for key in ("title", "description", "version", "visibility"):
        value = getattr(data, key)
        if value is not None:
            setattr(api, key, value)
    api.backend_url = backend_url
    if document is not None:
        api.openapi = document
        api.openapi_url = data.openapi_url.strip() if data.openapi_url else None
    if data.mcp_url is not None:
        api.mcp_url = data.mcp_url.strip()
    if credential_changed:
        store_credential(api, credential, upstream.secret_box)
    await session.flush()
    changes = await reconcile_tools(session, api, drafts) if drafts is not None else None
    after = audit.snapshot_of(api)
    if credential_changed:
        # The secret never enters the log; that it changed does.
        after["upstream_auth_changed"] = True
    await audit.record(
        session,
        actor,
        action="api.update",
        target_type="api",
        target_id=api.id,
        tenant_id=tenant.id,
        before={**before, **tool_names_for_audit(None, tools_before)},
        after={
            **after,
            **tool_names_for_audit(changes, await repository.tools_of(session, api.id)),
        },
    )
    return await _view_of(session, api)


async def delete_api(session: AsyncSession, actor: Principal, tenant: Tenant, name: str) -> None:
    """Delete the API with its tools and attached policies, unless someone still holds a
    live subscription.

    Raises:
        Conflict: pending, active or suspended subscriptions exist; revoke them first.
    """
    api = await _api(session, tenant, name)
    live = await repository.live_subscription_count(session, api.id)
    if live:
        raise Conflict(
            f"api {api.name} has {live} pending, active or suspended subscription(s); revoke "
            "them before deleting it, or retire the api instead",
            live_subscriptions=live,
        )
    before = {
        **audit.snapshot_of(api),
        **tool_names_for_audit(None, await repository.tools_of(session, api.id)),
    }
    await policies.delete_attached(session, actor, tenant, "api", api.id)
    await session.delete(api)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="api.delete",
        target_type="api",
        target_id=api.id,
        tenant_id=tenant.id,
        before=before,
    )


async def move_lifecycle(
    session: AsyncSession, actor: Principal, tenant: Tenant, name: str, to: str
) -> ApiView:
    """Move the API along the lifecycle table (`catalog.lifecycle`). Publishing needs at
    least one enabled tool; the first publication sets `published_at`.

    Raises:
        Conflict: the move is not allowed from the current state (the message names the
            allowed ones), or there is no enabled tool to publish.
    """
    api = await _api(session, tenant, name)
    verb = move_verb(api.lifecycle, to)
    if to == "published":
        _, enabled = (await repository.tool_counts(session, [api.id])).get(api.id, (0, 0))
        if enabled == 0:
            raise Conflict(
                f"api {api.name} has no enabled tool; enable at least one before publishing"
            )
    before = audit.snapshot_of(api)
    api.lifecycle = to
    if verb == "publish":
        api.published_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        action=f"api.{verb}",
        target_type="api",
        target_id=api.id,
        tenant_id=tenant.id,
        before=before,
        after=audit.snapshot_of(api),
    )
    return await _view_of(session, api)


# --- tools ---------------------------------------------------------------------------------


async def list_tools(
    session: AsyncSession,
    actor: Principal,
    tenant: Tenant,
    api_name: str,
    page: PageRequest,
    *,
    enabled: bool | None,
) -> tuple[Sequence[Tool], str | None]:
    api = await _api(session, tenant, api_name)
    return await fetch_page(
        session, repository.tool_listing(api.id, enabled=enabled), Tool.id, page
    )


async def _tool(session: AsyncSession, api: Api, name: str) -> Tool:
    tool = await repository.tool_named(session, api.id, name)
    if tool is None:
        raise NotFound(f"api {api.name} has no tool named {name}")
    return tool


async def get_tool(
    session: AsyncSession, actor: Principal, tenant: Tenant, api_name: str, tool_name: str
) -> Tool:
    return await _tool(session, await _api(session, tenant, api_name), tool_name)


async def set_tool_enabled(
    session: AsyncSession,
    actor: Principal,
    tenant: Tenant,
    api_name: str,
    tool_name: str,
    enabled: bool,
) -> Tool:
    """Enable or disable one tool; disabled tools are neither listed to consumers nor
    callable. Setting the flag it already has changes (and records) nothing."""
    api = await _api(session, tenant, api_name)
    _refuse_if_retired(api, "changing its tools")
    tool = await _tool(session, api, tool_name)
    if tool.enabled == enabled:
        return tool
    before = audit.snapshot_of(tool)
    tool.enabled = enabled
    await session.flush()
    await audit.record(
        session,
        actor,
        action="tool.enable" if enabled else "tool.disable",
        target_type="tool",
        target_id=tool.id,
        tenant_id=tenant.id,
        before=before,
        after=audit.snapshot_of(tool),
    )
    return tool


async def refresh_tools(
    session: AsyncSession, actor: Principal, tenant: Tenant, api_name: str, upstream: Upstream
) -> RefreshView:
    """Read the tools again from the upstream (the OpenAPI document at `openapi_url`, or the
    MCP server) and reconcile; one audit entry `api.refresh` lists the changes.

    Raises:
        Conflict: the API is retired, or is a rest API whose document was given inline (there
            is nothing to fetch: send a new document with PATCH).
        InvalidInput, UpstreamError: the upstream is unusable; nothing changes.
    """
    api = await _api(session, tenant, api_name)
    _refuse_if_retired(api, "refreshing its tools")
    credential = stored_credential(api, upstream.secret_box)
    document: dict[str, Any] | None = None
    if api.kind == "rest":
        if api.openapi_url is None:
            raise Conflict(
                f"api {api.name} has an inline OpenAPI document and no openapi_url to fetch "
                "again; send the new document with PATCH (openapi)"
            )
        document, drafts = await openapi_from(
            None,
            api.openapi_url,
            backend_url=api.backend_url,
            credential=credential,
            fetcher=upstream.fetcher,
        )
    else:
        assert api.mcp_url is not None
        drafts = await mcp_tools(api.mcp_url, credential, upstream.fetcher)
    before = {
        **audit.snapshot_of(api),
        **tool_names_for_audit(None, await repository.tools_of(session, api.id)),
    }
    if document is not None:
        api.openapi = document
    changes = await reconcile_tools(session, api, drafts)
    tools = await repository.tools_of(session, api.id)
    await audit.record(
        session,
        actor,
        action="api.refresh",
        target_type="api",
        target_id=api.id,
        tenant_id=tenant.id,
        before=before,
        after={**audit.snapshot_of(api), **tool_names_for_audit(changes, tools)},
    )
    return RefreshView(
        tools=list(tools),
        added=len(changes.added),
        removed=len(changes.removed),
        updated=len(changes.updated),
    )


# --- the consumer catalog ------------------------------------------------------------------


async def _catalog_views(session: AsyncSession, apis: Sequence[Api]) -> list[CatalogView]:
    tenant_ids = sorted({api.tenant_id for api in apis})
    slugs = await repository.tenant_slugs(session, tenant_ids)
    tools: dict[str, list[Tool]] = defaultdict(list)
    for tool in await repository.enabled_tools(session, [api.id for api in apis]):
        tools[tool.api_id].append(tool)
    plans: dict[str, list[CatalogPlanView]] = defaultdict(list)
    for plan in await repository.plans_of(session, tenant_ids):
        plans[plan.tenant_id].append(plan_view(plan))
    return [
        CatalogView(
            tenant=slugs[api.tenant_id],
            name=api.name,
            title=api.title,
            description=api.description,
            kind=api.kind,
            version=api.version,
            visibility=api.visibility,
            lifecycle=api.lifecycle,
            tools=tools[api.id],
            plans=plans[api.tenant_id],
        )
        for api in apis
    ]


async def list_catalog(
    session: AsyncSession,
    actor: Principal,
    page: PageRequest,
    *,
    kind: str | None,
    q: str | None,
    tenant: str | None,
) -> tuple[list[CatalogView], str | None]:
    """Published and deprecated APIs of active tenants offered to the caller: public ones,
    and their own tenant's; cpi-admin sees every visibility."""
    statement = repository.catalog_listing(
        visible_to_tenant=actor.tenant_id,
        everything=actor.is_platform_admin,
        kind=kind,
        q=q,
        tenant_slug=tenant,
    )
    apis, cursor = await fetch_page(session, statement, Api.id, page)
    return await _catalog_views(session, apis), cursor


async def catalog_entry(
    session: AsyncSession, actor: Principal, tenant: str, name: str
) -> CatalogView:
    """One catalog entry; `NotFound` when the caller's catalog does not list it."""
    api = await repository.catalog_api(
        session,
        visible_to_tenant=actor.tenant_id,
        everything=actor.is_platform_admin,
        tenant_slug=tenant,
        name=name,
    )
    if api is None:
        raise NotFound(f"api {tenant}/{name} is not in your catalog")
    [view] = await _catalog_views(session, [api])
    return view
