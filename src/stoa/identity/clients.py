"""Who the OAuth client is: a registered public client, a client ID metadata document, or
a service account (confidential, client_credentials only).

`Client` is the one view the grant logic works with, whatever the source.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.models import OAuthClient, User
from stoa.controlplane.user import service as user_service
from stoa.identity.client_metadata import ClientMetadataDocuments, is_metadata_document_url
from stoa.identity.config import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, SUPPORTED_SCOPES
from stoa.identity.oauth_errors import OAuthError, invalid_client, invalid_request
from stoa.kit.passwords import verify_password

PUBLIC = "public"
METADATA_DOCUMENT = "metadata_document"
SERVICE_ACCOUNT = "service_account"


@dataclass(frozen=True, slots=True)
class Client:
    """An OAuth client as the grants see it.

    `kind` is `public` (dynamically registered), `metadata_document` (client_id is an
    https URL) or `service_account`; only service accounts are confidential. `user` is
    the service account's row (None otherwise).
    """

    client_id: str
    name: str
    kind: str
    redirect_uris: tuple[str, ...]
    grant_types: frozenset[str]
    scopes: frozenset[str]
    client_uri: str | None = None
    user: User | None = None

    @property
    def confidential(self) -> bool:
        return self.kind == SERVICE_ACCOUNT


def _from_row(row: OAuthClient) -> Client:
    return Client(
        client_id=row.id,
        name=row.name,
        kind=PUBLIC,
        redirect_uris=tuple(row.redirect_uris),
        grant_types=frozenset(row.grant_types),
        scopes=frozenset(row.scope.split()),
        client_uri=row.client_uri,
    )


def _service_account(user: User) -> Client:
    return Client(
        client_id=user.client_id or "",
        name=user.name,
        kind=SERVICE_ACCOUNT,
        redirect_uris=(),
        grant_types=frozenset({CLIENT_CREDENTIALS}),
        scopes=frozenset(SUPPORTED_SCOPES),
        user=user,
    )


async def public_client(
    session: AsyncSession, documents: ClientMetadataDocuments, client_id: str
) -> Client | None:
    """The public client `client_id` (registered, or an https metadata document URL), or
    None if there is no such client.

    Raises `OAuthError` (invalid_client) when a metadata document cannot be used.
    """
    if is_metadata_document_url(client_id):
        document = await documents.get(client_id)
        return Client(
            client_id=client_id,
            name=document.client_name,
            kind=METADATA_DOCUMENT,
            redirect_uris=document.redirect_uris,
            grant_types=document.grant_types,
            scopes=document.scopes,
            client_uri=document.client_uri,
        )
    if len(client_id) > 64:
        return None
    row = await session.get(OAuthClient, client_id)
    return _from_row(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class PresentedCredentials:
    """What a request to the token, revocation or introspection endpoint says about its
    client: `client_id`, and `secret` when it authenticates (Basic header or body)."""

    client_id: str
    secret: str | None
    basic: bool


def presented_credentials(
    authorization: str | None, form_client_id: str | None, form_secret: str | None
) -> PresentedCredentials:
    """The client credentials of a request (RFC 6749 §2.3.1), refusing mixed methods.

    Raises `OAuthError`: invalid_client for a malformed Basic header, invalid_request
    when no client is named or two methods are used at once.
    """
    if authorization and authorization.lower().startswith("basic "):
        if form_secret is not None:
            raise invalid_request(
                "use one client authentication method, not Basic and a body secret"
            )
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            raw_id, _, raw_secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_client(
                "the Basic authorization header is malformed", basic=True
            ) from None
        # An empty secret is a public client using Basic just to name itself.
        client_id, secret = unquote(raw_id), unquote(raw_secret) or None
        if form_client_id is not None and form_client_id != client_id:
            raise invalid_request("client_id in the body differs from the authenticated client")
        return PresentedCredentials(client_id, secret, basic=True)
    if not form_client_id:
        raise invalid_client("name the client: client_id, or HTTP Basic authentication")
    return PresentedCredentials(form_client_id, form_secret or None, basic=False)


async def authenticated_client(
    session: AsyncSession,
    documents: ClientMetadataDocuments,
    credentials: PresentedCredentials,
) -> Client:
    """The client making a token-endpoint-style request.

    A service account must prove its secret (argon2, checked in a worker thread); a
    public client must not send one.

    Raises `OAuthError` (invalid_client) when the client is unknown, disabled, or its
    credentials are wrong.
    """
    client_id = credentials.client_id
    if credentials.secret is not None:
        user = await user_service.find_login(session, client_id)
        is_service = user is not None and user.kind == "service"
        stored = user.client_secret_hash if is_service and user is not None else None
        valid = await asyncio.to_thread(verify_password, stored, credentials.secret)
        if user is None or not is_service or not valid or user.status != "active":
            raise invalid_client("unknown client or wrong client secret", basic=credentials.basic)
        return _service_account(user)
    client = await public_client(session, documents, client_id)
    if client is None:
        if client_id.startswith(user_service.CLIENT_ID_PREFIX):
            raise invalid_client("a service account must authenticate with its client secret")
        raise invalid_client(f"unknown client {client_id[:80]!r}")
    return client


def require_grant(client: Client, grant_type: str) -> None:
    if grant_type not in client.grant_types:
        raise OAuthError("unauthorized_client", f"this client may not use the {grant_type} grant")


def redirects_allowed(client: Client) -> bool:
    return AUTHORIZATION_CODE in client.grant_types and bool(client.redirect_uris)
