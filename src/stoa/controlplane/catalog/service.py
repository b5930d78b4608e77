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

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.audit import service as audit
from stoa.controlplane.catalog import repository
from stoa.controlplane.catalog.lifecycle import move_verb
from stoa.controlplane.catalog.mcp_discovery import discover_mcp_tools
from stoa.controlplane.catalog.openapi import parse_openapi, tools_from_openapi
from stoa.controlplane.catalog.schemas import ApiCreate, ApiUpdate, UpstreamAuthIn
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.controlplane.models import Api, Plan, Tenant, Tool
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.policy import service as policies
from stoa.controlplane.principal import Principal
from stoa.kit.crypto import DecryptionError, SecretBox
from stoa.kit.errors import Conflict, InvalidInput, NotFound, UpstreamError
from stoa.kit.ids import new_id
from stoa.kit.ssrf import SafeFetcher, check_url, display_url

_OPENAPI_ACCEPT = "application/vnd.oai.openapi+json, application/json, application/yaml, */*"


@dataclass(frozen=True, slots=True)
class Upstream:
    """What reaching upstreams needs: an SSRF-guarded fetcher for this operation, and the
    box that seals upstream credentials."""

    fetcher: SafeFetcher
    secret_box: SecretBox


# --- views (what the schemas read) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamAuthView:
    location: str
    name: str
    configured: bool = True


@dataclass(frozen=True, slots=True)
class ToolCountsView:
    total: int
    enabled: int


@dataclass(frozen=True, slots=True)
class ApiView:
    """An API as its tenant sees it: the row without the secret, with tool counts."""

    id: str
    name: str
    title: str
    description: str
    kind: str
    version: str
    visibility: str
    lifecycle: str
    openapi: dict[str, Any] | None
    openapi_url: str | None
    backend_url: str | None
    mcp_url: str | None
    upstream_auth: UpstreamAuthView | None
    tools: ToolCountsView
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshView:
    tools: list[Tool]
    added: int
    removed: int
    updated: int


@dataclass(frozen=True, slots=True)
class PlanLimitsView:
    rate_per_second: float | None
    burst: int | None
    per_minute: int | None
    per_day: int | None
    per_month: int | None


@dataclass(frozen=True, slots=True)
class CatalogPlanView:
    id: str
    name: str
    description: str
    limits: PlanLimitsView
    requires_approval: bool
    tool_allowlist: list[str] | None


@dataclass(frozen=True, slots=True)
class CatalogView:
    """An API as a consumer sees it in the catalog."""

    tenant: str
    name: str
    title: str
    description: str
    kind: str
    version: str
    visibility: str
    lifecycle: str
    tools: list[Tool]
    plans: list[CatalogPlanView]


def _api_view(api: Api, counts: tuple[int, int]) -> ApiView:
    auth = None
    if api.upstream_auth_location and api.upstream_auth_name and api.upstream_auth_secret:
        auth = UpstreamAuthView(location=api.upstream_auth_location, name=api.upstream_auth_name)
    return ApiView(
        id=api.id,
        name=api.name,
        title=api.title,
        description=api.description,
        kind=api.kind,
        version=api.version,
        visibility=api.visibility,
        lifecycle=api.lifecycle,
        openapi=api.openapi,
        openapi_url=api.openapi_url,
        backend_url=api.backend_url,
        mcp_url=api.mcp_url,
        upstream_auth=auth,
        tools=ToolCountsView(*counts),
        published_at=api.published_at,
        created_at=api.created_at,
        updated_at=api.updated_at,
    )


async def _view_of(session: AsyncSession, api: Api) -> ApiView:
    counts = await repository.tool_counts(session, [api.id])
    return _api_view(api, counts.get(api.id, (0, 0)))


# --- errors that name the field -----------------------------------------------------------


def _invalid(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field_name}: {message}", errors=[{"field": field_name, "message": message}]
    )


@contextmanager
def _about(field_name: str) -> Iterator[None]:
    """Prefix input and upstream errors raised inside with the request field they concern."""
    try:
        yield
    except (InvalidInput, UpstreamError) as exc:
        extra = dict(exc.extra)
        extra["errors"] = [
            {
                "field": f"{field_name}.{e['field']}" if e.get("field") else field_name,
                "message": e.get("message", exc.detail),
            }
            for e in exc.extra.get("errors", [{"message": exc.detail}])
        ]
        raise type(exc)(f"{field_name}: {exc.detail}", **extra) from None


# --- upstreams ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Credential:
    location: str
    name: str
    value: str


def _credential_from(given: UpstreamAuthIn | None) -> _Credential | None:
    if given is None:
        return None
    return _Credential(given.location, given.name, given.secret.get_secret_value())


def _stored_credential(api: Api, box: SecretBox) -> _Credential | None:
    if not (api.upstream_auth_location and api.upstream_auth_name and api.upstream_auth_secret):
        return None
    try:
        value = box.decrypt(api.upstream_auth_secret, context=api.id)
    except DecryptionError:
        raise Conflict(
            f"the upstream credential of api {api.name} cannot be decrypted with the current "
            "master key; set upstream_auth again"
        ) from None
    return _Credential(api.upstream_auth_location, api.upstream_auth_name, value)


def _store_credential(api: Api, credential: _Credential | None, box: SecretBox) -> None:
    """Seal the credential onto the API (the id is the encryption context), or clear it."""
    if credential is None:
        api.upstream_auth_location = api.upstream_auth_name = api.upstream_auth_secret = None
        return
    api.upstream_auth_location = credential.location
    api.upstream_auth_name = credential.name
    api.upstream_auth_secret = box.encrypt(credential.value, context=api.id)


def _with_credential(url: str, credential: _Credential | None) -> tuple[str, dict[str, str]]:
    """`url` and headers carrying the credential where the upstream expects it."""
    if credential is None:
        return url, {}
    if credential.location == "header":
        return url, {credential.name: credential.value}
    return str(httpx.URL(url).copy_merge_params({credential.name: credential.value})), {}


def _same_origin(first: str, second: str | None) -> bool:
    if second is None:
        return False
    try:
        a, b = httpx.URL(first), httpx.URL(second)
    except httpx.InvalidURL:
        return False
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


async def _checked_url(url: str, field_name: str, fetcher: SafeFetcher) -> str:
    """`url` if it is an http(s) URL the SSRF guard allows (it must resolve now)."""
    with _about(field_name):
        await check_url(url, fetcher.policy)
    return url.strip()


async def _openapi_from(
    inline: dict[str, Any] | str | None,
    url: str | None,
    *,
    backend_url: str | None,
    credential: _Credential | None,
    fetcher: SafeFetcher,
) -> tuple[dict[str, Any], list[ToolDraft]]:
    """The parsed document, given inline or fetched from `url`, and its tools.

    The upstream credential goes along only when the document is served by the backend
    itself (same origin): it is the backend's credential, not one for arbitrary hosts.
    """
    if url is not None:
        field_name = "openapi_url"
        target, headers = _with_credential(
            url, credential if _same_origin(url, backend_url) else None
        )
        with _about(field_name):
            response = await fetcher.request(
                "GET", target, headers={"Accept": _OPENAPI_ACCEPT, **headers}
            )
            if not 200 <= response.status < 300:
                raise UpstreamError(
                    f"{display_url(url)} answered HTTP {response.status}, not an OpenAPI document"
                )
        source: str | bytes = response.content
    else:
        assert inline is not None
        field_name = "openapi"
        source = json.dumps(inline) if isinstance(inline, dict) else inline
    with _about(field_name):
        document = parse_openapi(source)
        drafts = tools_from_openapi(document)
    return document, drafts


async def _mcp_tools(
    url: str, credential: _Credential | None, fetcher: SafeFetcher
) -> list[ToolDraft]:
    target, headers = _with_credential(url, credential)
    with _about("mcp_url"):
        return await discover_mcp_tools(target, fetcher, headers=headers or None)


# --- tool reconciliation -------------------------------------------------------------------


@dataclass(slots=True)
class _Changes:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _tool_fields(draft: ToolDraft) -> dict[str, Any]:
    return {
        "description": draft.description,
        "input_schema": draft.input_schema,
        "output_schema": draft.output_schema,
        "annotations": draft.annotations,
        "binding": draft.binding,
    }


async def _reconcile(session: AsyncSession, api: Api, drafts: Sequence[ToolDraft]) -> _Changes:
    """Make the API's tools match `drafts` by name, keeping surviving tools' enabled flag."""
    changes = _Changes()
    existing = {tool.name: tool for tool in await repository.tools_of(session, api.id)}
    wanted = {draft.name for draft in drafts}
    for name, gone in existing.items():
        if name not in wanted:
            await session.delete(gone)
            changes.removed.append(name)
    for draft in drafts:
        fields = _tool_fields(draft)
        tool = existing.get(draft.name)
        if tool is None:
            session.add(
                Tool(
                    id=new_id("tool"),
                    api_id=api.id,
                    tenant_id=api.tenant_id,
                    name=draft.name,
                    enabled=True,
                    **fields,
                )
            )
            changes.added.append(draft.name)
        elif any(getattr(tool, key) != value for key, value in fields.items()):
            for key, value in fields.items():
                setattr(tool, key, value)
            changes.updated.append(draft.name)
    await session.flush()
    return changes


def _tool_names(changes: _Changes | None, tools: Sequence[Tool]) -> dict[str, Any]:
    """The tool part of an audit entry: the names now, and what changed."""
    names = sorted(tool.name for tool in tools)
    if changes is None:
        return {"tools": names}
    return {
        "tools": names,
        "tools_added": changes.added,
        "tools_removed": changes.removed,
        "tools_updated": changes.updated,
    }


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
    return [_api_view(api, counts.get(api.id, (0, 0))) for api in apis], cursor


async def get_api(session: AsyncSession, actor: Principal, tenant: Tenant, name: str) -> ApiView:
    return await _view_of(session, await _api(session, tenant, name))


def _check_create_shape(data: ApiCreate) -> None:
    """Which URLs and documents each kind takes."""
    if data.kind == "rest":
        if data.backend_url is None:
            raise _invalid("backend_url", "a rest api needs the base URL of its backend")
        if (data.openapi is None) == (data.openapi_url is None):
            raise _invalid(
                "openapi", "a rest api needs exactly one of openapi (the document) or openapi_url"
            )
        if data.mcp_url is not None:
            raise _invalid("mcp_url", "only mcp apis have an mcp_url; use backend_url")
    else:
        if data.mcp_url is None:
            raise _invalid("mcp_url", "an mcp api needs the URL of its MCP server")
        for name in ("openapi", "openapi_url", "backend_url"):
            if getattr(data, name) is not None:
                raise _invalid(name, "an mcp api takes only mcp_url; its tools are discovered")


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
    credential = _credential_from(data.upstream_auth)
    document: dict[str, Any] | None = None
    backend_url = mcp_url = None
    if data.kind == "rest":
        assert data.backend_url is not None
        backend_url = await _checked_url(data.backend_url, "backend_url", upstream.fetcher)
        document, drafts = await _openapi_from(
            data.openapi,
            data.openapi_url,
            backend_url=backend_url,
            credential=credential,
            fetcher=upstream.fetcher,
        )
    else:
        assert data.mcp_url is not None
        mcp_url = data.mcp_url.strip()
        drafts = await _mcp_tools(mcp_url, credential, upstream.fetcher)
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
    _store_credential(api, credential, upstream.secret_box)
    session.add(api)
    await session.flush()
    changes = await _reconcile(session, api, drafts)
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
            raise _invalid(name, f"{api.kind} apis have no {name}")
    if data.openapi is not None and data.openapi_url is not None:
        raise _invalid("openapi", "give either openapi (the document) or openapi_url, not both")


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
    credential: _Credential | None = None
    if credential_changed:
        credential = _credential_from(data.upstream_auth)
    elif data.openapi_url is not None or data.mcp_url is not None:
        credential = _stored_credential(api, upstream.secret_box)
    backend_url = api.backend_url
    if data.backend_url is not None:
        backend_url = await _checked_url(data.backend_url, "backend_url", upstream.fetcher)
    drafts: list[ToolDraft] | None = None
    document: dict[str, Any] | None = None
    if data.openapi is not None or data.openapi_url is not None:
        document, drafts = await _openapi_from(
            data.openapi,
            data.openapi_url,
            backend_url=backend_url,
            credential=credential,
            fetcher=upstream.fetcher,
        )
    elif data.mcp_url is not None:
        drafts = await _mcp_tools(data.mcp_url.strip(), credential, upstream.fetcher)

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
        _store_credential(api, credential, upstream.secret_box)
    await session.flush()
    changes = await _reconcile(session, api, drafts) if drafts is not None else None
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
        before={**before, **_tool_names(None, tools_before)},
        after={**after, **_tool_names(changes, await repository.tools_of(session, api.id))},
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
        **_tool_names(None, await repository.tools_of(session, api.id)),
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
    credential = _stored_credential(api, upstream.secret_box)
    document: dict[str, Any] | None = None
    if api.kind == "rest":
        if api.openapi_url is None:
            raise Conflict(
                f"api {api.name} has an inline OpenAPI document and no openapi_url to fetch "
                "again; send the new document with PATCH (openapi)"
            )
        document, drafts = await _openapi_from(
            None,
            api.openapi_url,
            backend_url=api.backend_url,
            credential=credential,
            fetcher=upstream.fetcher,
        )
    else:
        assert api.mcp_url is not None
        drafts = await _mcp_tools(api.mcp_url, credential, upstream.fetcher)
    before = {
        **audit.snapshot_of(api),
        **_tool_names(None, await repository.tools_of(session, api.id)),
    }
    if document is not None:
        api.openapi = document
    changes = await _reconcile(session, api, drafts)
    tools = await repository.tools_of(session, api.id)
    await audit.record(
        session,
        actor,
        action="api.refresh",
        target_type="api",
        target_id=api.id,
        tenant_id=tenant.id,
        before=before,
        after={**audit.snapshot_of(api), **_tool_names(changes, tools)},
    )
    return RefreshView(
        tools=list(tools),
        added=len(changes.added),
        removed=len(changes.removed),
        updated=len(changes.updated),
    )


# --- the consumer catalog ------------------------------------------------------------------


def _plan_view(plan: Plan) -> CatalogPlanView:
    return CatalogPlanView(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        limits=PlanLimitsView(
            rate_per_second=plan.rate_per_second,
            burst=plan.burst,
            per_minute=plan.per_minute,
            per_day=plan.per_day,
            per_month=plan.per_month,
        ),
        requires_approval=plan.requires_approval,
        tool_allowlist=plan.tool_allowlist,
    )


async def _catalog_views(session: AsyncSession, apis: Sequence[Api]) -> list[CatalogView]:
    tenant_ids = sorted({api.tenant_id for api in apis})
    slugs = await repository.tenant_slugs(session, tenant_ids)
    tools: dict[str, list[Tool]] = defaultdict(list)
    for tool in await repository.enabled_tools(session, [api.id for api in apis]):
        tools[tool.api_id].append(tool)
    plans: dict[str, list[CatalogPlanView]] = defaultdict(list)
    for plan in await repository.plans_of(session, tenant_ids):
        plans[plan.tenant_id].append(_plan_view(plan))
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
