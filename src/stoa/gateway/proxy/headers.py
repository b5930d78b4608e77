"""Which headers cross the proxy, and the upstream request head."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote

from stoa.gateway.snapshot.compiled import CompiledApi
from stoa.gateway.snapshot.policies import CallPolicies

# Connection-level headers (RFC 9110 section 7.6.1), the caller's credentials, and the
# headers the gateway sets itself.
_NOT_FORWARDED: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authorization",
        b"host",
        b"content-length",
        b"authorization",
        b"x-api-key",
        b"expect",
        b"x-request-id",
        b"x-forwarded-for",
    }
)


def upstream_head(
    api: CompiledApi,
    policies: CallPolicies,
    method: str,
    rest: bytes,
    query: str,
    raw_headers: list[tuple[bytes, bytes]],
    body_length: int | None,
    request_id: str,
    client_ip: str,
) -> bytes:
    """The request line and headers to send upstream for a proxied call.

    `rest` is the path after `/proxy/{tenant}/{api}`, as received (still percent-encoded),
    so the backend sees exactly what the caller sent. `body_length` None: the body follows
    in chunked encoding.
    """
    target = api.upstream
    assert target is not None
    auth = api.upstream_auth
    if auth is not None and auth.location == "query":
        credential = f"{quote(auth.name, safe='')}={quote(auth.value, safe='')}"
        query = f"{query}&{credential}" if query else credential
    parts = [
        method.encode("ascii"),
        b" ",
        target.base_path.encode(),
        rest or b"/",
        b"?" + query.encode("latin-1") if query else b"",
        b" HTTP/1.1\r\nhost: ",
        target.host_header.encode("ascii"),
        b"\r\n",
    ]
    skip = _NOT_FORWARDED
    removed = policies.remove_headers
    set_headers = policies.set_headers
    forwarded_for = client_ip
    for name, value in raw_headers:
        lower = name.lower()
        if lower in skip:
            if lower == b"connection":
                # Headers the caller named as connection-scoped go no further either.
                skip = skip | {token.strip().lower() for token in value.split(b",")}
            elif lower == b"x-forwarded-for":
                forwarded_for = f"{value.decode('latin-1')}, {client_ip}"
            continue
        if removed or set_headers:
            text = lower.decode("latin-1")
            if text in removed or any(text == key for key, _ in set_headers):
                continue
        parts += (name, b": ", value, b"\r\n")
    for set_name, set_value in set_headers:
        parts.append(f"{set_name}: {set_value}\r\n".encode("latin-1"))
    if auth is not None and auth.location == "header":
        parts.append(f"{auth.name}: {auth.value}\r\n".encode("latin-1"))
    parts.append(
        f"x-request-id: {request_id}\r\nx-forwarded-for: {forwarded_for}\r\n".encode("latin-1")
    )
    if body_length is None:
        parts.append(b"transfer-encoding: chunked\r\n")
    elif body_length or method in ("POST", "PUT", "PATCH"):
        parts.append(b"content-length: %d\r\n" % body_length)
    parts.append(b"\r\n")
    return b"".join(parts)


_NOT_RETURNED_LINE: Final = re.compile(
    rb"\r\n(?:connection|keep-alive|proxy-connection|te|trailer|transfer-encoding|upgrade"
    rb"|proxy-authenticate|content-length|x-request-id)[ \t]*:[^\r\n]*",
    re.IGNORECASE,
)
_CONTENT_LENGTH: Final = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED: Final = re.compile(rb"\r\ntransfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE)


# Upstream head -> what `returned_head` made of it. A backend sends the same head again
# and again (only its Date changes, once a second), so a dict hit replaces three regex
# passes on most responses. Bounded: cleared when full.
_returned: Final[dict[bytes, tuple[bytes, int | None]]] = {}
_RETURNED_CACHE_SIZE: Final = 512
_CACHEABLE_HEAD: Final = 2048  # larger heads (long cookies, say) are unlikely to repeat


def returned_head(head: bytes) -> tuple[bytes, int | None]:
    """The upstream's header lines to pass back (without the status line and the final
    empty line; each line starting with CRLF) and its Content-Length, if the body is
    framed by one."""
    known = _returned.get(head)
    if known is not None:
        return known
    result = _returned_head(head)
    if len(head) <= _CACHEABLE_HEAD:
        if len(_returned) >= _RETURNED_CACHE_SIZE:
            _returned.clear()
        _returned[head] = result
    return result


def _returned_head(head: bytes) -> tuple[bytes, int | None]:
    first = head.find(b"\r\n")
    block = head[first:-4] if head.endswith(b"\r\n\r\n") else head[first:]
    length_match = _CONTENT_LENGTH.search(block)
    length = None
    if length_match is not None and _CHUNKED.search(block) is None:
        length = int(length_match.group(1))
    return _NOT_RETURNED_LINE.sub(b"", block), length
