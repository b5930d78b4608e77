"""Discovery documents, the JWKS and the pages' stylesheet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stoa.identity.discovery import server_metadata
from stoa.identity.runtime import identity_of
from stoa.identity.signing_keys import published_key_set

router = APIRouter(tags=["identity"], include_in_schema=False)

_STYLESHEET = (Path(__file__).parent.parent / "assets" / "identity.css").read_bytes()


@router.get("/.well-known/openid-configuration")
@router.get("/.well-known/oauth-authorization-server")
async def discovery(request: Request) -> Response:
    document = server_metadata(identity_of(request).config.issuer)
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


@router.get("/oauth/jwks")
async def jwks(request: Request) -> Response:
    runtime = identity_of(request)
    async with runtime.sessions() as session:
        keys = await published_key_set(session)
    # Short cache: verifiers re-fetch on an unknown key id anyway.
    return JSONResponse(
        keys.as_dict(private=False),
        headers={"Cache-Control": "public, max-age=300"},
        media_type="application/jwk-set+json",
    )


@router.get("/oauth/assets/identity.css")
async def stylesheet() -> Response:
    return Response(
        _STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )
