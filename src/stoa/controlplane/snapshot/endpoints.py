"""The snapshot that gateways load."""

from __future__ import annotations

from fastapi import APIRouter, Response

from stoa.contract.snapshot import content_hash, encode_snapshot
from stoa.controlplane.dependencies import CurrentPrincipal, RuntimeDep, Session
from stoa.controlplane.snapshot import service

router = APIRouter(prefix="/v1/snapshot", tags=["gateway snapshot"])


@router.get(
    "",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": {}},
            "description": "The snapshot (see stoa.contract.snapshot)",
        }
    },
)
async def get_snapshot(
    session: Session, principal: CurrentPrincipal, runtime: RuntimeDep
) -> Response:
    """The current config snapshot, with its content hash in `ETag` and
    `X-Stoa-Snapshot-Hash`. Contains upstream credentials: platform admins only."""
    snapshot = await service.snapshot_for(
        session, principal, runtime.secret_box, runtime.key_hash_secret
    )
    digest = content_hash(snapshot)
    return Response(
        encode_snapshot(snapshot),
        media_type="application/json",
        headers={
            "ETag": f'"{digest}"',
            "X-Stoa-Snapshot-Hash": digest,
            "Cache-Control": "no-store",
        },
    )
