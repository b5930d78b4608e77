"""The snapshot that gateways load, and the long poll that tells them when it changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel

from stoa.contract import sync
from stoa.controlplane.dependencies import GatewayCaller, RuntimeDep, Session
from stoa.controlplane.snapshot import service

router = APIRouter(prefix="/v1/snapshot", tags=["gateway snapshot"])


class SnapshotHash(BaseModel):
    hash: str


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
    request: Request,
    session: Session,
    caller: GatewayCaller,
    runtime: RuntimeDep,
    wanted: Annotated[
        str | None,
        Header(
            alias=sync.WANTED_HEADER,
            pattern=r"^[0-9a-f]{64}$",
            description="The hash the long poll announced: served as built if still current",
        ),
    ] = None,
) -> Response:
    """The current config snapshot, with its content hash in `ETag` and
    `X-Stoa-Snapshot-Hash`, gzip-compressed if the client accepts it. Contains upstream
    credentials: gateway tokens and platform admins only."""
    published = await service.snapshot_for(session, caller, runtime.snapshot_watch, wanted=wanted)
    headers = {
        "ETag": f'"{published.hash}"',
        sync.HASH_HEADER: published.hash,
        "Cache-Control": "no-store",
        "Vary": "Accept-Encoding",
    }
    # The test Starlette's GZipMiddleware makes; httpx (the gateway's client) asks for gzip.
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(await published.gzipped(), media_type="application/json", headers=headers)
    return Response(published.body, media_type="application/json", headers=headers)


@router.get("/hash", response_model=SnapshotHash)
async def next_snapshot_hash(
    request: Request,
    caller: GatewayCaller,
    runtime: RuntimeDep,
    response: Response,
    after: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9a-f]{64}$",
            description="The hash the gateway knows; the answer waits until it changes",
        ),
    ] = None,
    wait: Annotated[
        float,
        Query(ge=0, le=sync.MAX_WAIT_SECONDS, description="Longest wait, in seconds"),
    ] = 25,
) -> SnapshotHash:
    """Long poll: the current snapshot hash as soon as it differs from `after` (within a
    fraction of a second of the change, whichever control plane made it), or after `wait`
    seconds with the same hash. Without `after`, at once."""
    digest = await service.next_hash(
        runtime.sessions,
        caller,
        runtime.snapshot_watch,
        after=after,
        wait=wait,
        gone=request.is_disconnected,
    )
    response.headers[sync.HASH_HEADER] = digest
    response.headers["Cache-Control"] = "no-store"
    return SnapshotHash(hash=digest)
