"""HTTP routes for gateway tokens, the fleet, and gateways' refusal reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from stoa.controlplane.dependencies import (
    CurrentPrincipal,
    GatewayCaller,
    Pagination,
    RuntimeDep,
    Session,
)
from stoa.controlplane.gateway_fleet import service
from stoa.controlplane.gateway_fleet.schemas import (
    GatewayOut,
    GatewayTokenCreate,
    GatewayTokenIssued,
    GatewayTokenOut,
    RefusalReport,
    TokenState,
)
from stoa.controlplane.pagination import Page

router = APIRouter(tags=["gateway fleet"])


@router.post(
    "/v1/gateway-tokens", status_code=status.HTTP_201_CREATED, response_model=GatewayTokenIssued
)
async def create_gateway_token(
    body: GatewayTokenCreate, session: Session, principal: CurrentPrincipal, runtime: RuntimeDep
) -> GatewayTokenIssued:
    """Issue a gateway token (`stoa_gw_…`, shown this once) for one gateway or a fleet.
    Platform admins only."""
    issued = await service.create_token(session, principal, runtime.key_hash_secret, body)
    return GatewayTokenIssued.model_validate(issued)


@router.get("/v1/gateway-tokens", response_model=Page[GatewayTokenOut])
async def list_gateway_tokens(
    session: Session,
    principal: CurrentPrincipal,
    page: Pagination,
    status: Annotated[TokenState | None, Query()] = None,
) -> Page[GatewayTokenOut]:
    """Gateway tokens, by prefix; secrets are never shown again."""
    items, cursor = await service.list_tokens(session, principal, page, state=status)
    return Page(items=[GatewayTokenOut.model_validate(t) for t in items], next_cursor=cursor)


@router.post("/v1/gateway-tokens/{token_id}/revoke", response_model=GatewayTokenOut)
async def revoke_gateway_token(
    token_id: str, session: Session, principal: CurrentPrincipal
) -> GatewayTokenOut:
    """Revoke the token: its gateways get 401 from now on and receive no more config
    (they keep serving the snapshot they have). Revoking twice is 409."""
    return GatewayTokenOut.model_validate(await service.revoke_token(session, principal, token_id))


@router.get("/v1/gateways", response_model=Page[GatewayOut])
async def list_gateways(
    session: Session, principal: CurrentPrincipal, page: Pagination, runtime: RuntimeDep
) -> Page[GatewayOut]:
    """Every gateway that has synced: what it serves against the latest snapshot, when it
    was last seen, and its status (`in_sync`, `behind`, `unreachable`)."""
    items, cursor = await service.list_gateways(session, principal, page, runtime.snapshot_watch)
    return Page(items=[GatewayOut.model_validate(g) for g in items], next_cursor=cursor)


@router.post("/v1/snapshot/refusals", status_code=status.HTTP_204_NO_CONTENT)
async def report_refusal(body: RefusalReport, session: Session, caller: GatewayCaller) -> None:
    """A gateway reports a snapshot it could not compile (it keeps serving its previous
    one); shown as `refused` in `/v1/gateways`."""
    await service.record_refusal(session, caller, body)
