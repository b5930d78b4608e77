"""Reading OAuth requests: form bodies, limited bodies, transactions, the caller's address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import parse_qsl

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from stoa.identity.oauth_errors import OAuthError, invalid_request
from stoa.identity.runtime import IdentityRuntime

T = TypeVar("T")
MAX_FORM_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    pass


async def limited_body(request: Request, limit: int) -> bytes:
    """The request body, or `BodyTooLarge` past `limit` bytes (whatever Content-Length says)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def oauth_form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as a dict.

    Raises `OAuthError` (invalid_request) for another content type, an oversize or
    undecodable body, or a parameter given twice (RFC 6749 §3.2).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise invalid_request("send the parameters as application/x-www-form-urlencoded")
    try:
        body = await limited_body(request, MAX_FORM_BYTES)
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except BodyTooLarge:
        raise invalid_request(f"the request body is larger than {MAX_FORM_BYTES} bytes") from None
    except UnicodeDecodeError:
        raise invalid_request("the request body is not UTF-8") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise invalid_request(f"parameter {name[:40]} is repeated")
        if "\x00" in value or "\x00" in name:
            raise invalid_request("parameters must not contain NUL characters")
        form[name] = value
    return form


async def in_transaction(
    runtime: IdentityRuntime, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """Run `work` in one transaction. An `OAuthError` rolls it back, except one marked
    `commit` (its side effects, such as a revoked token family, must stay)."""
    deferred: OAuthError | None = None
    async with runtime.sessions() as session, session.begin():
        try:
            return await work(session)
        except OAuthError as exc:
            if not exc.commit:
                raise
            deferred = exc
    assert deferred is not None
    raise deferred


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None
