"""`/oauth/token`, `/oauth/revoke`, `/oauth/introspect`, `/oauth/userinfo`.

Every refusal is an OAuth error document (RFC 6749 §5.2, RFC 7009, RFC 7662, RFC 6750).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stoa.identity import grants, token_status
from stoa.identity.clients import (
    Client,
    PresentedCredentials,
    authenticated_client,
    presented_credentials,
)
from stoa.identity.config import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN
from stoa.identity.endpoints.forms import in_transaction, oauth_form
from stoa.identity.oauth_errors import (
    NO_STORE,
    OAuthError,
    invalid_client,
    invalid_request,
    invalid_token,
)
from stoa.identity.runtime import IdentityRuntime, identity_of

router = APIRouter(tags=["identity"], include_in_schema=False)


async def _authenticated(runtime: IdentityRuntime, credentials: PresentedCredentials) -> Client:
    """The requesting client, looked up outside the grant's transaction: checking a
    secret (argon2) or fetching a metadata document must not hold a database lock."""
    async with runtime.sessions() as session:
        return await authenticated_client(session, runtime.documents, credentials)


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    runtime = identity_of(request)
    try:
        form = await oauth_form(request)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise invalid_request("grant_type is required")
        credentials = presented_credentials(
            request.headers.get("authorization"), form.get("client_id"), form.get("client_secret")
        )

        client = await _authenticated(runtime, credentials)

        async def work(session: AsyncSession) -> dict[str, Any]:
            if grant_type == AUTHORIZATION_CODE:
                return await grants.authorization_code(
                    session, runtime.box, runtime.config, runtime.settings, client, form
                )
            if grant_type == REFRESH_TOKEN:
                return await grants.refresh_token(
                    session, runtime.box, runtime.config, runtime.settings, client, form
                )
            if grant_type == CLIENT_CREDENTIALS:
                return await grants.client_credentials(
                    session, runtime.box, runtime.config, runtime.settings, client, form
                )
            raise OAuthError(
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials",
            )

        answer = await in_transaction(runtime, work)
    except OAuthError as exc:
        return exc.response()
    housekeeping = BackgroundTask(runtime.housekeeper.run) if runtime.housekeeper.claim() else None
    return JSONResponse(answer, headers=NO_STORE, background=housekeeping)


@router.post("/oauth/revoke")
async def revoke(request: Request) -> Response:
    runtime = identity_of(request)
    try:
        form = await oauth_form(request)
        credentials = presented_credentials(
            request.headers.get("authorization"), form.get("client_id"), form.get("client_secret")
        )
        presented = form.get("token")
        if not presented:
            raise invalid_request("token is required")

        client = await _authenticated(runtime, credentials)

        async def work(session: AsyncSession) -> None:
            await token_status.revoke(
                session,
                runtime.keys,
                runtime.config,
                client,
                presented,
                form.get("token_type_hint"),
            )

        await in_transaction(runtime, work)
    except OAuthError as exc:
        return exc.response()
    return Response(status_code=200, headers=NO_STORE)


@router.post("/oauth/introspect")
async def introspect(request: Request) -> Response:
    runtime = identity_of(request)
    try:
        form = await oauth_form(request)
        credentials = presented_credentials(
            request.headers.get("authorization"), form.get("client_id"), form.get("client_secret")
        )
        presented = form.get("token")

        client = await _authenticated(runtime, credentials)

        async def work(session: AsyncSession) -> dict[str, Any]:
            if not client.confidential:
                # RFC 7662 §2.1: the endpoint must be protected against token scanning.
                raise invalid_client(
                    "introspection is for confidential clients (service accounts)",
                    basic=credentials.basic,
                )
            if not presented:
                raise invalid_request("token is required")
            return await token_status.introspect(
                session, runtime.keys, runtime.config, presented, form.get("token_type_hint")
            )

        answer = await in_transaction(runtime, work)
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(answer, headers=NO_STORE)


@router.api_route("/oauth/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request) -> Response:
    runtime = identity_of(request)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not presented.strip():
            raise invalid_token("send the access token as Authorization: Bearer <token>")

        async def work(session: AsyncSession) -> dict[str, Any]:
            return await token_status.userinfo(
                session, runtime.keys, runtime.config, presented.strip()
            )

        answer = await in_transaction(runtime, work)
    except OAuthError as exc:
        return exc.response()
    return JSONResponse(answer, headers=NO_STORE)
