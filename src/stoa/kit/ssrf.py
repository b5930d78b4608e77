"""The one SSRF guard for every URL a user can make STOA fetch.

Admins paste URLs (OpenAPI documents, MCP servers) that the control plane then fetches
from inside the operator's network. Without a guard, such a URL reaches the cloud metadata
service, the database, or anything else on the private network. Everything that fetches a
user-supplied URL goes through `SafeFetcher`, which:

- accepts only the policy's schemes (http and https) and refuses credentials in URLs;
- resolves the host once, refuses the URL if *any* address it resolves to is forbidden
  (`check_url`), and then connects to the address it checked: the request URL is
  rewritten to the IP, the `Host` header and the TLS SNI keep the name, so a second DNS
  answer (DNS rebinding) cannot send the connection elsewhere;
- never follows redirects on its own: it follows at most `MAX_REDIRECTS`, checking each
  target like the first URL, and drops the caller's credential headers when a redirect
  leaves the original origin;
- bounds the whole exchange (resolution, connection, redirects, body) by the policy's
  timeout, and the body by its size limit, and reports every failure as an `UpstreamError`
  whose message names the URL without its query string (which may carry a key).

Forbidden addresses come in two groups. Always refused: unspecified, link-local (which holds
the cloud metadata service 169.254.169.254), other metadata addresses, multicast, broadcast,
reserved space, Teredo. Refused unless `allow_private_networks`: loopback, RFC 1918, unique
local, carrier-grade NAT, documentation and benchmarking ranges. IPv6 forms that embed an
IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64) are judged by that IPv4 address.
The tables are explicit rather than `ipaddress.is_private`, whose meaning changed between
Python patch releases.
"""

from __future__ import annotations

import asyncio
import codecs
import ipaddress
import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import httpx

from stoa.kit.errors import InvalidInput, UnsafeUrl, UpstreamError
from stoa.kit.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS: Final = 3
"""Redirects `SafeFetcher.request` follows before giving up."""

PRIVATE_NETWORKS_SETTING: Final = "STOA_FETCH__ALLOW_PRIVATE_NETWORKS=true"

_ALWAYS = "always"
_PRIVATE = "private"


def _table(
    rows: list[tuple[str, str, str]],
) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str, str]]:
    return [(ipaddress.ip_network(net), reason, group) for net, reason, group in rows]


# Ordered: the first matching row decides, so specific rows precede the ranges holding them
# (the Alibaba metadata address sits inside carrier-grade NAT, the AWS one inside ULA space).
_IPV4_RULES: Final = _table(
    [
        ("0.0.0.0/8", "an unspecified ('this network') address", _ALWAYS),
        ("127.0.0.0/8", "a loopback address", _PRIVATE),
        ("10.0.0.0/8", "a private (RFC 1918) address", _PRIVATE),
        ("100.100.100.200/32", "a cloud metadata address (Alibaba Cloud)", _ALWAYS),
        ("100.64.0.0/10", "a carrier-grade NAT (RFC 6598) address", _PRIVATE),
        ("169.254.169.254/32", "the cloud metadata service address (link-local)", _ALWAYS),
        (
            "169.254.0.0/16",
            "a link-local address (the range of the cloud metadata service 169.254.169.254)",
            _ALWAYS,
        ),
        ("172.16.0.0/12", "a private (RFC 1918) address", _PRIVATE),
        ("192.0.0.0/24", "an IETF protocol assignment address", _PRIVATE),
        ("192.0.2.0/24", "a documentation (TEST-NET-1) address", _PRIVATE),
        ("192.168.0.0/16", "a private (RFC 1918) address", _PRIVATE),
        ("198.18.0.0/15", "a benchmarking address", _PRIVATE),
        ("198.51.100.0/24", "a documentation (TEST-NET-2) address", _PRIVATE),
        ("203.0.113.0/24", "a documentation (TEST-NET-3) address", _PRIVATE),
        ("224.0.0.0/4", "a multicast address", _ALWAYS),
        ("255.255.255.255/32", "the broadcast address", _ALWAYS),
        ("240.0.0.0/4", "a reserved address", _ALWAYS),
    ]
)

_IPV6_RULES: Final = _table(
    [
        ("::/128", "an unspecified address", _ALWAYS),
        ("::1/128", "a loopback address", _PRIVATE),
        ("fe80::/10", "a link-local address", _ALWAYS),
        ("fd00:ec2::254/128", "a cloud metadata address (AWS)", _ALWAYS),
        ("fc00::/7", "a unique local (private) address", _PRIVATE),
        ("fec0::/10", "a site-local (private) address", _PRIVATE),
        ("ff00::/8", "a multicast address", _ALWAYS),
        ("100::/64", "a discard-only address", _ALWAYS),
        ("2001::/32", "a Teredo tunnel address (it reaches arbitrary IPv4 hosts)", _ALWAYS),
        ("2001:2::/48", "a benchmarking address", _PRIVATE),
        ("2001:db8::/32", "a documentation address", _PRIVATE),
        ("64:ff9b:1::/48", "a local-use NAT64 address", _PRIVATE),
    ]
)

_IPV6_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")

_HOSTNAME: Final = re.compile(r"^[A-Za-z0-9_.-]+$")
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Headers that carry no credential and may follow a redirect to another origin; everything
# else the caller set (Authorization, API-key headers, cookies) stays with the first origin.
_HEADERS_SAFE_ACROSS_ORIGINS: Final = frozenset(
    {"accept", "accept-language", "content-type", "user-agent", "mcp-protocol-version"}
)


@dataclass(frozen=True)
class FetchPolicy:
    """What `check_url` and `SafeFetcher` allow.

    `timeout_seconds` bounds one whole `SafeFetcher.request` (name resolution, connection,
    redirects and body); `max_response_bytes` bounds the decoded body.
    """

    allow_private_networks: bool
    timeout_seconds: float
    max_response_bytes: int
    allowed_schemes: frozenset[str] = frozenset({"http", "https"})

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be positive")

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchPolicy:
        """The policy configured by `STOA_FETCH__*` (and the database default for private
        networks, see `Settings.allow_private_networks`)."""
        return cls(
            allow_private_networks=settings.allow_private_networks,
            timeout_seconds=settings.fetch.timeout_seconds,
            max_response_bytes=settings.fetch.max_response_bytes,
        )


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A URL that passed `check_url`, with every address its host resolved to.

    `host` is the ASCII (IDNA) host name or the IP literal without brackets; `addresses`
    are unique, in resolver order, and all allowed by the policy.
    """

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, slots=True)
class FetchedResponse:
    """A complete upstream response (the body read to its end, within the size limit).

    `url` is the URL that answered, after redirects, with its original host name.
    """

    status: int
    headers: httpx.Headers
    content: bytes
    url: str

    def text(self) -> str:
        """The body decoded with the charset of its Content-Type (UTF-8 when absent or
        unknown); undecodable bytes become U+FFFD."""
        return self.content.decode(_charset(self.headers.get("content-type", "")), "replace")

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            UpstreamError: the body is not valid JSON.
        """
        try:
            return json.loads(self.content)
        except json.JSONDecodeError as exc:
            raise UpstreamError(
                f"{display_url(self.url)} did not return valid JSON "
                f"(line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from None
        except UnicodeDecodeError:
            raise UpstreamError(
                f"{display_url(self.url)} did not return valid JSON (the body is not UTF-8)"
            ) from None
        except RecursionError:
            raise UpstreamError(
                f"{display_url(self.url)} returned JSON nested too deeply to read"
            ) from None


def display_url(url: str | httpx.URL) -> str:
    """`url` as it may appear in a message: no credentials, query string or fragment."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "the given URL"
    netloc = parsed.netloc.decode("ascii", "replace")
    return f"{parsed.scheme}://{netloc}{parsed.path}"


async def check_url(url: str, policy: FetchPolicy) -> ResolvedTarget:
    """Parse `url`, resolve its host and check every address against `policy`.

    Returns:
        The parsed URL with all its (allowed) addresses.

    Raises:
        InvalidInput: `url` cannot be parsed as a URL.
        UnsafeUrl: the scheme is not allowed, the URL carries credentials or has no host,
            or any address of the host is refused; the message names the host, the address
            and the reason.
        UpstreamError: the host name does not resolve (or not within the timeout).
    """
    parsed = _parse(url, policy)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await _resolve(host, port, parsed, policy)
    for address in addresses:
        refusal = _refusal(address, policy.allow_private_networks)
        if refusal is not None:
            raise UnsafeUrl(_refusal_message(parsed, host, address, refusal), host=host)
    return ResolvedTarget(url=parsed, host=host, port=port, addresses=addresses)


class SafeFetcher:
    """An HTTP client that fetches only what `FetchPolicy` allows.

    Wraps one `httpx.AsyncClient`; close it with `aclose()` or use the fetcher as an async
    context manager. `transport` replaces the network (httpx's `MockTransport` in tests);
    the SSRF checks run either way.

    The client keeps no idle connections: it connects to IP addresses, and a pooled TLS
    connection verified for one host name must not be reused for another name served
    from the same address.
    """

    def __init__(self, policy: FetchPolicy, transport: httpx.AsyncBaseTransport | None = None):
        self.policy = policy
        if transport is None:
            transport = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_keepalive_connections=0), retries=0
            )
        # trust_env=False: an environment proxy or .netrc must not change where requests go
        # or what credentials they carry.
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(policy.timeout_seconds),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> FetchedResponse:
        """Send one request to `url` and read the whole response.

        `json` (serialized, with `Content-Type: application/json` unless `headers` set one)
        and `content` are exclusive. Any status is returned as is, except redirects
        (301, 302, 303, 307, 308 with a Location), which are followed up to
        `MAX_REDIRECTS` times; 303, and 301/302 after a POST, continue as a body-less GET.

        Raises:
            InvalidInput, UnsafeUrl: as `check_url`, for `url` or any redirect target.
            UpstreamError: no connection, timeout, too many redirects, or a body larger
                than the policy allows.
        """
        if json is not None and content is not None:
            raise ValueError("pass either json or content, not both")
        body = content
        request_headers = {
            key: value for key, value in (headers or {}).items() if key.lower() != "host"
        }
        if json is not None:
            body = _encode_json(json)
            if not any(key.lower() == "content-type" for key in request_headers):
                request_headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout(self.policy.timeout_seconds):
                return await self._follow(method.upper(), url, request_headers, body)
        except TimeoutError:
            raise UpstreamError(_timeout_message(url, self.policy)) from None

    async def _follow(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> FetchedResponse:
        target = await check_url(url, self.policy)
        origin = _origin(target.url)
        for redirects in range(MAX_REDIRECTS + 1):
            response = await self._send(method, target, headers, body)
            location = response.headers.get("location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                return await self._read(response, target.url)
            await response.aclose()
            if redirects == MAX_REDIRECTS:
                break
            next_url = _redirect_target(target.url, location)
            if (response.status_code == 303 and method != "HEAD") or (
                response.status_code in (301, 302) and method == "POST"
            ):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            try:
                target = await check_url(str(next_url), self.policy)
            except UnsafeUrl as exc:
                raise UnsafeUrl(
                    f"{display_url(url)} redirected to {display_url(next_url)}: {exc.detail}",
                    **exc.extra,
                ) from None
            if _origin(target.url) != origin:
                headers = {
                    k: v for k, v in headers.items() if k.lower() in _HEADERS_SAFE_ACROSS_ORIGINS
                }
        raise UpstreamError(f"{display_url(url)} redirected more than {MAX_REDIRECTS} times")

    async def _send(
        self,
        method: str,
        target: ResolvedTarget,
        headers: dict[str, str],
        body: bytes | None,
    ) -> httpx.Response:
        """Send to the checked addresses in turn until one accepts the connection."""
        shown = display_url(target.url)
        extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
        pinned_headers = {**headers, "Host": target.url.netloc.decode("ascii")}
        refused: list[str] = []
        for address in target.addresses:
            request = self._client.build_request(
                method,
                target.url.copy_with(host=str(address)),
                headers=pinned_headers,
                content=body,
                extensions=extensions,
            )
            try:
                return await self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                refused.append(f"{address}: {_reason(exc)}")
            except httpx.TimeoutException:
                raise UpstreamError(_timeout_message(target.url, self.policy)) from None
            except httpx.HTTPError as exc:
                raise UpstreamError(f"request to {shown} failed: {_reason(exc)}") from None
        raise UpstreamError(f"could not connect to {shown} ({'; '.join(refused)})")

    async def _read(self, response: httpx.Response, url: httpx.URL) -> FetchedResponse:
        limit = self.policy.max_response_bytes
        too_large = UpstreamError(
            f"{display_url(url)} sent a response larger than {limit} bytes; "
            "raise STOA_FETCH__MAX_RESPONSE_BYTES if it is expected"
        )
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise UpstreamError(_timeout_message(url, self.policy)) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"reading the response of {display_url(url)} failed: {_reason(exc)}"
            ) from None
        finally:
            await response.aclose()
        return FetchedResponse(
            status=response.status_code,
            headers=response.headers,
            content=b"".join(chunks),
            url=str(url),
        )


def _parse(url: str, policy: FetchPolicy) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise InvalidInput(f"{url!r} is not a valid URL") from None
    if parsed.scheme not in policy.allowed_schemes:
        allowed = " or ".join(f"{scheme}://" for scheme in sorted(policy.allowed_schemes))
        got = f"'{parsed.scheme}:'" if parsed.scheme else "no scheme"
        raise UnsafeUrl(f"the URL must start with {allowed} (it has {got})")
    if parsed.userinfo:
        raise UnsafeUrl(
            f"{display_url(parsed)}: URLs with credentials (user:password@) are refused; "
            "configure the upstream's credentials separately"
        )
    host = parsed.raw_host.decode("ascii", "replace")
    if not host:
        raise UnsafeUrl(f"{url!r} has no host")
    if _ip_literal(host) is None and not _HOSTNAME.match(host):
        raise UnsafeUrl(f"{host!r} is not a valid host name")
    return parsed


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def _resolve(
    host: str, port: int, url: httpx.URL, policy: FetchPolicy
) -> tuple[IPAddress, ...]:
    literal = _ip_literal(host)
    if literal is not None:
        return (literal,)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            infos = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except TimeoutError:
        raise UpstreamError(
            f"resolving {host} took longer than {policy.timeout_seconds:g} seconds"
        ) from None
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UpstreamError(f"could not resolve {host} ({display_url(url)}): {reason}") from None
    addresses: list[IPAddress] = []
    # Only AF_INET and AF_INET6 are asked for implicitly (SOCK_STREAM over IP); the scope
    # suffix of a link-local IPv6 answer ("fe80::1%eth0") is dropped, the address is refused.
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UpstreamError(f"{host} has no IPv4 or IPv6 address")
    return tuple(addresses)


@dataclass(frozen=True, slots=True)
class _Refusal:
    reason: str
    always: bool
    embedded: ipaddress.IPv4Address | None = None
    embedding: str = ""


def _refusal(address: IPAddress, allow_private_networks: bool) -> _Refusal | None:
    """Why `address` may not be fetched, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner, form = embedded
            found = _refusal(inner, allow_private_networks)
            if found is None:
                return None
            return _Refusal(found.reason, found.always, embedded=inner, embedding=form)
        rules = _IPV6_RULES
    else:
        rules = _IPV4_RULES
    for network, reason, group in rules:
        if address in network:
            if group == _PRIVATE and allow_private_networks:
                return None
            return _Refusal(reason, always=group == _ALWAYS)
    if isinstance(address, ipaddress.IPv6Address) and address not in _IPV6_GLOBAL_UNICAST:
        return _Refusal("a reserved address", always=True)
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, with the name of the form."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return low32, "NAT64"
    # :: and ::1 are in ::/96 but are the IPv6 unspecified and loopback addresses.
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return low32, "IPv4-compatible"
    return None


def _refusal_message(url: httpx.URL, host: str, address: IPAddress, refusal: _Refusal) -> str:
    shown = str(address)
    if refusal.embedded is not None:
        shown += f" (the {refusal.embedding} form of {refusal.embedded})"
    where = f"{shown} is" if _ip_literal(host) == address else f"{host} resolves to {shown},"
    if refusal.always:
        advice = "STOA never fetches such addresses."
    else:
        advice = (
            "Loopback, private and other non-public addresses are refused unless "
            f"{PRIVATE_NETWORKS_SETTING} is set."
        )
    return f"refused to fetch {display_url(url)}: {where} {refusal.reason}. {advice}"


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        return current.join(location)
    except httpx.InvalidURL:
        raise UpstreamError(
            f"{display_url(current)} redirected to an invalid URL {location[:200]!r}"
        ) from None


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


def _encode_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _timeout_message(url: str | httpx.URL, policy: FetchPolicy) -> str:
    return (
        f"{display_url(url)} did not answer within {policy.timeout_seconds:g} seconds "
        "(STOA_FETCH__TIMEOUT_SECONDS)"
    )


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"')
            try:
                return codecs.lookup(name).name
            except LookupError:
                break
    return "utf-8"
