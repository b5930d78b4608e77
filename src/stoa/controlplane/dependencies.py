"""Request dependencies as `Annotated` aliases: the session, the caller, the tenant scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane import authn
from stoa.controlplane.authz import Action, authorize, require_platform_admin
from stoa.controlplane.db import session_scope
from stoa.controlplane.gateway_fleet import service as fleet
from stoa.controlplane.gateway_fleet.service import SyncCaller
from stoa.controlplane.models import Tenant
from stoa.controlplane.pagination import MAX_LIMIT, PageRequest
from stoa.controlplane.principal import Principal
from stoa.controlplane.runtime import Runtime
from stoa.controlplane.tenant import repository as tenant_repository
from stoa.kit.errors import NotFound
from stoa.kit.gateway_token import looks_like_gateway_token


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(runtime.sessions):
        yield session


# scope="function": commit before the response is sent, so a failed commit becomes an
# error response instead of a success that did not happen.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_principal(request: Request, runtime: RuntimeDep, session: Session) -> Principal:
    return await authn.principal_from_request(request, runtime, session)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_gateway_caller(request: Request, runtime: RuntimeDep) -> SyncCaller:
    """A gateway: `Authorization: Bearer stoa_gw_...` (an active gateway token), or a
    platform admin's access token (for people and tools reading the config by hand).
    Anything else is 401 (403 for a non-admin access token).

    The token is checked in a short transaction of its own, so an endpoint that then waits
    (the long poll) holds no database connection. The sync headers of `stoa.contract.sync`
    are parsed into `report` (422 if malformed).
    """
    token = authn.bearer_token(request)
    source_ip = request.client.host if request.client else None
    async with runtime.sessions() as session, session.begin():
        if looks_like_gateway_token(token):
            principal = await fleet.authenticate_token(
                session, runtime.key_hash_secret, token, source_ip=source_ip
            )
            token_id: str | None = principal.user_id.removeprefix("gateway-token:")
        else:
            principal = await authn.principal_from_request(request, runtime, session)
            require_platform_admin(principal, doing="reading the gateway configuration")
            token_id = None
    report = fleet.sync_report_from(request.headers, source_ip)
    return SyncCaller(principal=principal, token_id=token_id, report=report)


# Who may read gateway config (snapshot, sync, usage ingestion): see `get_gateway_caller`.
GatewayCaller = Annotated[SyncCaller, Depends(get_gateway_caller)]


def get_page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=64, description="`next_cursor` of the previous page")
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


Pagination = Annotated[PageRequest, Depends(get_page)]


@dataclass(frozen=True, slots=True)
class TenantScope:
    """The tenant named in the path, and the caller, already authorized for one action."""

    tenant: Tenant
    principal: Principal


def tenant_scope(action: Action) -> Callable[..., object]:
    """A dependency resolving `{tenant}` (slug) and authorizing `action` in it."""

    async def resolve(
        tenant: Annotated[str, Path(description="Tenant slug")],
        principal: CurrentPrincipal,
        session: Session,
    ) -> TenantScope:
        found = await tenant_repository.by_slug(session, tenant)
        if found is None:
            raise NotFound(f"tenant {tenant} does not exist")
        authorize(principal, action, found.id, what=f"tenant {tenant}")
        return TenantScope(tenant=found, principal=principal)

    return resolve


TenantReader = Annotated[TenantScope, Depends(tenant_scope(Action.TENANT_READ))]
CatalogReader = Annotated[TenantScope, Depends(tenant_scope(Action.CATALOG_READ))]
CatalogWriter = Annotated[TenantScope, Depends(tenant_scope(Action.CATALOG_WRITE))]
CatalogDeleter = Annotated[TenantScope, Depends(tenant_scope(Action.CATALOG_DELETE))]
MemberReader = Annotated[TenantScope, Depends(tenant_scope(Action.MEMBER_READ))]
MemberManager = Annotated[TenantScope, Depends(tenant_scope(Action.MEMBER_MANAGE))]
