"""`/oauth/register`: dynamic client registration (RFC 7591) for public clients."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stoa.identity import registration
from stoa.identity.endpoints.forms import BodyTooLarge, client_address, in_transaction, limited_body
from stoa.identity.oauth_errors import NO_STORE, OAuthError
from stoa.identity.runtime import identity_of

router = APIRouter(tags=["identity"], include_in_schema=False)


@router.post("/oauth/register")
async def register(request: Request) -> Response:
    runtime = identity_of(request)
    address = client_address(request)
    wait = runtime.registrations.retry_after(address or "unknown")
    try:
        if wait is not None:
            raise OAuthError(
                "temporarily_unavailable",
                f"too many registrations from this address; try again in {wait} seconds",
                status=429,
                headers={"Retry-After": str(wait)},
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise registration.invalid_metadata("send the client metadata as application/json")
        limit = runtime.config.registration_body_bytes
        try:
            body = json.loads(await limited_body(request, limit))
        except BodyTooLarge:
            raise registration.invalid_metadata(
                f"the registration request is larger than {limit} bytes"
            ) from None
        except (ValueError, RecursionError):
            raise registration.invalid_metadata("the body is not valid JSON") from None

        async def work(session: AsyncSession) -> dict[str, Any]:
            return await registration.register(session, body, runtime.config, source_ip=address)

        answer = await in_transaction(runtime, work)
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(answer, status_code=201, headers=NO_STORE)
