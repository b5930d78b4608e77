"""The authorization request (RFC 6749 §4.1.1 with OAuth 2.1 rules) and its answer.

Problems with the client or the redirect URI are shown to the user (`ShownToUser`):
redirecting to an unverified URI would make us an open redirector. Every other problem
goes back to the client as an error redirect (`BackToClient`) carrying `state` and
`iss` (RFC 9207).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import Application, AuthorizationCode, User
from stoa.controlplane.models.base import utcnow
from stoa.identity.client_metadata import ClientMetadataDocuments
from stoa.identity.clients import Client, public_client, redirects_allowed
from stoa.identity.config import AUTHORIZATION_CODE, IdentityConfig
from stoa.identity.issuance import digest, new_secret
from stoa.identity.oauth_errors import OAuthError
from stoa.identity.pkce import challenge_problem
from stoa.identity.redirect_uris import redirect_uri_matches
from stoa.identity.resources import resource_problem
from stoa.identity.scopes import requested_scopes
from stoa.kit.ids import new_id
from stoa.kit.settings import Settings

_SINGLE = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "nonce",
    "prompt",
    "login_hint",
)


class ShownToUser(Exception):
    """The request cannot be answered to the client: show `message` to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class BackToClient(Exception):
    """An error redirect to a verified redirect URI (RFC 6749 §4.1.2.1)."""

    redirect_uri: str
    error: str
    description: str
    state: str | None
    issuer: str

    def location(self) -> str:
        return with_query(
            self.redirect_uri,
            {
                "error": self.error,
                "error_description": self.description,
                "state": self.state,
                "iss": self.issuer,
            },
        )


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    state: str | None
    scopes: list[str]
    code_challenge: str
    resource: str | None
    nonce: str | None
    prompt: str | None
    login_hint: str | None = None


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` (None values left out) appended to its query."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


async def parse_request(
    session: AsyncSession,
    documents: ClientMetadataDocuments,
    config: IdentityConfig,
    settings: Settings,
    params: Mapping[str, Sequence[str]],
) -> AuthorizationRequest:
    """Validate an authorization request given as query parameters (name -> values).

    Raises `ShownToUser` or `BackToClient`.
    """

    def one(name: str) -> str | None:
        values = params.get(name, ())
        return values[0] if values else None

    if any("\x00" in value for values in params.values() for value in values):
        raise ShownToUser("The request contains characters that are not allowed (NUL).")
    client_id = one("client_id")
    if not client_id:
        raise ShownToUser("The application did not say who it is (client_id is missing).")
    if len(params.get("client_id", ())) > 1:
        raise ShownToUser("The request names client_id more than once.")
    try:
        client = await public_client(session, documents, client_id)
    except OAuthError as exc:
        raise ShownToUser(f"The application cannot be verified: {exc.description}") from None
    if client is None or not redirects_allowed(client):
        raise ShownToUser("The application is not registered with this server (unknown client_id).")
    presented = params.get("redirect_uri", ())
    if len(presented) > 1:
        raise ShownToUser("The request names redirect_uri more than once.")
    if presented:
        redirect_uri = presented[0]
        if not any(redirect_uri_matches(r, redirect_uri) for r in client.redirect_uris):
            raise ShownToUser(
                "The application asked to send you back to an address it did not register "
                "(redirect_uri mismatch), so you are not sent anywhere."
            )
    elif len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    else:
        raise ShownToUser("The application registered several redirect URIs and named none.")

    state = one("state")

    def back(error: str, description: str) -> BackToClient:
        return BackToClient(redirect_uri, error, description, state, config.issuer)

    for name in _SINGLE:
        if len(params.get(name, ())) > 1:
            raise back("invalid_request", f"{name} must not be repeated")
    response_type = one("response_type")
    if not response_type:
        raise back("invalid_request", "response_type is required (code)")
    if response_type != "code":
        raise back("unsupported_response_type", "response_type must be code")
    if AUTHORIZATION_CODE not in client.grant_types:
        raise back("unauthorized_client", "this client may not use the authorization code grant")
    challenge, method = one("code_challenge"), one("code_challenge_method")
    problem = challenge_problem(challenge, method)
    if problem is not None or challenge is None:
        raise back("invalid_request", problem or "code_challenge is required")
    try:
        scopes = requested_scopes(one("scope"), client)
    except OAuthError as exc:
        raise back(exc.error, exc.description) from None
    resource = one("resource")
    if resource is not None:
        target_problem = resource_problem(resource, settings)
        if target_problem is not None:
            raise back("invalid_target", target_problem)
    prompt = one("prompt")
    if prompt is not None and "none" in prompt.split():
        # Every authorization here asks the user which application the agent acts for.
        raise back("consent_required", "this server always asks the user for consent")
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        state=state,
        scopes=scopes,
        code_challenge=challenge,
        resource=resource,
        nonce=one("nonce"),
        prompt=prompt,
        login_hint=(one("login_hint") or "")[:320] or None,
    )


async def applications_of(session: AsyncSession, user: User) -> list[Application]:
    """The applications the user may let an agent act for: their own, in their tenant."""
    statement = (
        select(Application)
        .where(Application.owner_id == user.id)
        .order_by(Application.name, Application.id)
    )
    if user.tenant_id is not None:
        statement = statement.where(Application.tenant_id == user.tenant_id)
    return list((await session.scalars(statement)).all())


async def grant_code(
    session: AsyncSession,
    config: IdentityConfig,
    request: AuthorizationRequest,
    *,
    user: User,
    scopes: list[str],
    application_id: str | None,
    auth_time: int,
) -> str:
    """Store a new authorization code and return the success redirect location, with
    `code`, `state` and `iss`."""
    code = new_secret()
    now = utcnow()
    session.add(
        AuthorizationCode(
            id=new_id("ac"),
            code_digest=digest(code),
            client_id=request.client.client_id,
            user_id=user.id,
            application_id=application_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            scope=" ".join(scopes),
            resource=request.resource,
            nonce=request.nonce,
            auth_time=datetime.fromtimestamp(auth_time, UTC),
            expires_at=now + timedelta(seconds=config.authorization_code_seconds),
        )
    )
    await session.flush()
    return with_query(
        request.redirect_uri, {"code": code, "state": request.state, "iss": config.issuer}
    )
