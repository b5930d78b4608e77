"""The SSRF guard: which URLs STOA refuses to fetch, and how SafeFetcher fetches the rest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager

import httpx
import pytest

from stoa.kit.errors import InvalidInput, UnsafeUrl, UpstreamError
from stoa.kit.settings import Settings
from stoa.kit.ssrf import FetchedResponse, FetchPolicy, SafeFetcher, check_url

STRICT = FetchPolicy(allow_private_networks=False, timeout_seconds=5, max_response_bytes=1000)
LENIENT = FetchPolicy(allow_private_networks=True, timeout_seconds=5, max_response_bytes=1000)
SETTING = "STOA_FETCH__ALLOW_PRIVATE_NETWORKS=true"


# Refused whatever the settings: (URL, words the message must contain).
ALWAYS_REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://169.254.10.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd00:ec2::254]/", "cloud metadata address (AWS)"),
    ("http://100.100.100.200/", "cloud metadata address (Alibaba Cloud)"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped form of 169.254.169.254"),
    ("http://[2002:a9fe:a9fe::1]/", "6to4 form of 169.254.169.254"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 form of 169.254.169.254"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("http://[4000::1]/", "reserved"),
]

# Refused unless private networks are allowed.
PRIVATE = [
    ("http://127.0.0.1:8080/", "loopback"),
    ("http://127.1/", "127.0.0.1, a loopback"),
    ("http://2130706433/", "127.0.0.1, a loopback"),
    ("http://localhost/", "localhost resolves to"),
    ("http://[::1]/", "loopback"),
    ("http://10.1.2.3/", "RFC 1918"),
    ("http://172.16.0.1/", "RFC 1918"),
    ("http://192.168.1.1/", "RFC 1918"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://[fd12:3456::1]/", "unique local"),
    ("http://[::ffff:10.0.0.1]/", "IPv4-mapped form of 10.0.0.1"),
    ("http://198.18.0.1/", "benchmarking"),
]

PUBLIC = [
    "http://8.8.8.8/",
    "https://1.1.1.1:8443/path?q=1",
    "http://[2606:4700:4700::1111]/",
    "http://[64:ff9b::808:808]/",
    "http://[::ffff:8.8.8.8]/",
]


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "why"), ALWAYS_REFUSED)
@pytest.mark.parametrize("policy", [STRICT, LENIENT], ids=["strict", "lenient"])
async def test_dangerous_addresses_are_refused_whatever_the_settings(
    url: str, why: str, policy: FetchPolicy
) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_url(url, policy)
    assert why in caught.value.detail
    assert "never fetches" in caught.value.detail
    assert SETTING not in caught.value.detail


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "why"), PRIVATE)
async def test_private_addresses_are_refused_by_default_naming_the_setting(
    url: str, why: str
) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_url(url, STRICT)
    assert why in caught.value.detail
    assert SETTING in caught.value.detail


@pytest.mark.anyio
@pytest.mark.parametrize(("url", "why"), PRIVATE)
async def test_private_addresses_are_allowed_when_the_setting_says_so(url: str, why: str) -> None:
    target = await check_url(url, LENIENT)
    assert target.addresses


@pytest.mark.anyio
@pytest.mark.parametrize("url", PUBLIC)
async def test_public_addresses_are_allowed(url: str) -> None:
    target = await check_url(url, STRICT)
    assert len(target.addresses) == 1


@pytest.mark.anyio
async def test_check_url_reports_host_port_and_every_address() -> None:
    target = await check_url("https://1.1.1.1:8443/x", STRICT)
    assert (target.host, target.port, [str(a) for a in target.addresses]) == (
        "1.1.1.1",
        8443,
        ["1.1.1.1"],
    )
    localhost = await check_url("http://localhost/", LENIENT)
    assert localhost.port == 80
    assert {str(a) for a in localhost.addresses} <= {"127.0.0.1", "::1"}


@pytest.mark.anyio
async def test_refusal_names_the_host_and_the_address() -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_url("http://localhost:9000/admin?token=secret", STRICT)
    detail = caught.value.detail
    assert "localhost" in detail
    assert "127.0.0.1" in detail or "::1" in detail
    assert "secret" not in detail


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://8.8.8.8/file", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("gopher://8.8.8.8:70/", "'gopher:'"),
        ("8.8.8.8/path", "no scheme"),
        ("http://user:hunter2@8.8.8.8/", "credentials"),
        ("http://token@8.8.8.8/", "credentials"),
        ("http:///just-a-path", "no host"),
        ("http://exa mple.com/", "not a valid host name"),
    ],
)
async def test_malformed_or_disallowed_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrl) as caught:
        await check_url(url, LENIENT)
    assert why in caught.value.detail
    assert "hunter2" not in caught.value.detail


@pytest.mark.anyio
async def test_unparseable_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="not a valid URL"):
        await check_url("http://[::1/", LENIENT)


@pytest.mark.anyio
async def test_unresolvable_host_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match=r"could not resolve no-such-host\.invalid"):
        await check_url("http://no-such-host.invalid/", STRICT)


def test_policy_comes_from_settings() -> None:
    settings = Settings(
        database_url="postgresql://db/stoa",
        fetch={"timeout_seconds": 3, "max_response_bytes": 1234},
    )
    policy = FetchPolicy.from_settings(settings)
    assert policy == FetchPolicy(
        allow_private_networks=False, timeout_seconds=3, max_response_bytes=1234
    )
    assert FetchPolicy.from_settings(Settings()).allow_private_networks is True  # SQLite demo


# --- SafeFetcher with a mock transport -------------------------------------------------


Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


@asynccontextmanager
async def mocked(handler: Handler, policy: FetchPolicy = LENIENT) -> AsyncIterator[SafeFetcher]:
    async with SafeFetcher(policy, transport=httpx.MockTransport(handler)) as fetcher:
        yield fetcher


@pytest.mark.anyio
async def test_request_connects_to_the_checked_ip_and_keeps_the_host_header() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async with mocked(handler) as fetcher:
        response = await fetcher.request("GET", "https://localhost:8443/api?x=1")

    assert response.json() == {"ok": True}
    assert response.url == "https://localhost:8443/api?x=1"
    (request,) = seen
    assert request.url.host in ("127.0.0.1", "::1")
    assert request.url.port == 8443
    assert request.url.raw_path == b"/api?x=1"
    assert request.headers["host"] == "localhost:8443"
    assert request.extensions["sni_hostname"] == "localhost"


@pytest.mark.anyio
async def test_request_sends_json_and_caller_headers() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    async with mocked(handler) as fetcher:
        response = await fetcher.request(
            "post",
            "http://127.0.0.1:9/rpc",
            headers={"Authorization": "Bearer t", "Host": "evil.example"},
            json={"a": "é"},
        )

    assert response.status == 202
    assert response.content == b""
    (request,) = seen
    assert request.method == "POST"
    assert json.loads(request.content) == {"a": "é"}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer t"
    assert request.headers["host"] == "127.0.0.1:9"
    assert "sni_hostname" not in request.extensions


@pytest.mark.anyio
async def test_redirect_to_the_metadata_address_is_refused() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    async with mocked(handler) as fetcher:
        with pytest.raises(UnsafeUrl) as caught:
            await fetcher.request("GET", "http://8.8.8.8/openapi.json")
    assert "redirected to http://169.254.169.254/latest/" in caught.value.detail
    assert "cloud metadata" in caught.value.detail


@pytest.mark.anyio
async def test_redirect_to_a_private_address_is_refused_by_default() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://10.0.0.5/internal"})

    async with mocked(handler, STRICT) as fetcher:
        with pytest.raises(UnsafeUrl, match="RFC 1918"):
            await fetcher.request("GET", "http://8.8.8.8/")


@pytest.mark.anyio
async def test_relative_redirects_are_followed_up_to_three_times() -> None:
    hops: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        hops.append(request.url.path)
        step = len(hops)
        if step <= 3:
            return httpx.Response(301, headers={"Location": f"/step{step}"})
        return httpx.Response(200, text="arrived")

    async with mocked(handler) as fetcher:
        response = await fetcher.request("GET", "http://8.8.8.8/start")

    assert response.text() == "arrived"
    assert hops == ["/start", "/step1", "/step2", "/step3"]
    assert response.url == "http://8.8.8.8/step3"


@pytest.mark.anyio
async def test_a_fourth_redirect_is_an_upstream_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": request.url.path + "x"})

    async with mocked(handler) as fetcher:
        with pytest.raises(UpstreamError, match="redirected more than 3 times"):
            await fetcher.request("GET", "http://8.8.8.8/loop")


@pytest.mark.anyio
async def test_303_after_post_continues_as_get_without_body() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/submit":
            return httpx.Response(303, headers={"Location": "/result"})
        return httpx.Response(200, text="done")

    async with mocked(handler) as fetcher:
        await fetcher.request("POST", "http://8.8.8.8/submit", json={"a": 1})

    assert [(r.method, r.url.path, r.content) for r in seen] == [
        ("POST", "/submit", b'{"a":1}'),
        ("GET", "/result", b""),
    ]
    assert "content-type" not in seen[1].headers


@pytest.mark.anyio
async def test_credentials_stay_with_the_origin_they_were_given_for() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "8.8.8.8" and request.url.path == "/a":
            return httpx.Response(307, headers={"Location": "/b"})
        if request.url.host == "8.8.8.8":
            return httpx.Response(307, headers={"Location": "http://1.1.1.1/c"})
        return httpx.Response(200)

    async with mocked(handler) as fetcher:
        await fetcher.request(
            "GET",
            "http://8.8.8.8/a",
            headers={"Authorization": "Bearer secret", "X-Api-Key": "k", "Accept": "text/plain"},
        )

    same_origin, other_origin = seen[1], seen[2]
    assert same_origin.headers["authorization"] == "Bearer secret"
    assert "authorization" not in other_origin.headers
    assert "x-api-key" not in other_origin.headers
    assert other_origin.headers["accept"] == "text/plain"
    assert other_origin.headers["host"] == "1.1.1.1"


@pytest.mark.anyio
async def test_body_over_the_declared_limit_is_refused() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 1001)

    async with mocked(handler) as fetcher:
        with pytest.raises(UpstreamError, match="larger than 1000 bytes"):
            await fetcher.request("GET", "http://8.8.8.8/big")


@pytest.mark.anyio
async def test_streamed_body_over_the_limit_is_refused_without_content_length() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 100

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    async with mocked(handler) as fetcher:
        with pytest.raises(UpstreamError, match="larger than 1000 bytes"):
            await fetcher.request("GET", "http://8.8.8.8/stream")


@pytest.mark.anyio
async def test_body_at_the_limit_is_returned_whole() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"z" * 1000)

    async with mocked(handler) as fetcher:
        response = await fetcher.request("GET", "http://8.8.8.8/")
    assert response.content == b"z" * 1000


@pytest.mark.anyio
async def test_slow_upstream_is_an_upstream_error_naming_the_timeout() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    policy = FetchPolicy(allow_private_networks=True, timeout_seconds=0.2, max_response_bytes=10)
    async with mocked(handler, policy) as fetcher:
        with pytest.raises(UpstreamError, match=r"did not answer within 0\.2 seconds"):
            await fetcher.request("GET", "http://8.8.8.8/slow?key=secret")


def test_json_errors_are_upstream_errors_without_the_query() -> None:
    response = FetchedResponse(200, httpx.Headers(), b"{oops", "http://h/x?key=secret")
    with pytest.raises(UpstreamError) as caught:
        response.json()
    assert "not return valid JSON (line 1 column 2" in caught.value.detail
    assert "secret" not in caught.value.detail


def test_text_uses_the_declared_charset() -> None:
    headers = httpx.Headers({"content-type": "text/plain; charset=latin-1"})
    assert FetchedResponse(200, headers, "café".encode("latin-1"), "http://h/").text() == "café"
    assert FetchedResponse(200, httpx.Headers(), "café".encode(), "http://h/").text() == "café"


@pytest.mark.anyio
async def test_json_and_content_together_are_a_programming_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    async with mocked(handler) as fetcher:
        with pytest.raises(ValueError, match="either json or content"):
            await fetcher.request("POST", "http://8.8.8.8/", json={}, content=b"")


@pytest.mark.anyio
async def test_refused_url_is_never_sent() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the transport must not be reached")

    async with mocked(handler, STRICT) as fetcher:
        with pytest.raises(UnsafeUrl):
            await fetcher.request("GET", "http://127.0.0.1/")


# --- SafeFetcher against real loopback sockets ------------------------------------------


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handle: RawHandler) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that answers each connection with `handle`."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.anyio
async def test_event_stream_that_ends_is_read_to_the_end() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        for event in (b"event: message\ndata: one\n\n", b"data: two\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with raw_server(handle) as port, SafeFetcher(LENIENT) as fetcher:
        response = await fetcher.request("POST", f"http://localhost:{port}/mcp", json={})
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text() == "event: message\ndata: one\n\ndata: two\n\n"


@pytest.mark.anyio
async def test_body_dripping_past_the_timeout_is_cut_off() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
        for _ in range(100):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    policy = FetchPolicy(allow_private_networks=True, timeout_seconds=0.5, max_response_bytes=1000)
    async with raw_server(handle) as port, SafeFetcher(policy) as fetcher:
        with pytest.raises(UpstreamError, match=r"did not answer within 0\.5 seconds"):
            await fetcher.request("GET", f"http://127.0.0.1:{port}/")


@pytest.mark.anyio
async def test_large_body_from_a_real_server_is_refused() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
        for _ in range(50):
            writer.write(b"x" * 100)
            await writer.drain()

    async with raw_server(handle) as port, SafeFetcher(LENIENT) as fetcher:
        with pytest.raises(UpstreamError, match="larger than 1000 bytes"):
            await fetcher.request("GET", f"http://127.0.0.1:{port}/")


@pytest.mark.anyio
async def test_closed_port_is_an_upstream_error() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return

    async with raw_server(handle) as port:
        pass  # the server is gone: nothing listens on the port any more
    async with SafeFetcher(LENIENT) as fetcher:
        with pytest.raises(UpstreamError, match=f"could not connect to http://127.0.0.1:{port}/"):
            await fetcher.request("GET", f"http://127.0.0.1:{port}/")


@pytest.mark.anyio
async def test_garbage_from_the_upstream_is_an_upstream_error() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()

    async with raw_server(handle) as port, SafeFetcher(LENIENT) as fetcher:
        with pytest.raises(UpstreamError, match="failed"):
            await fetcher.request("GET", f"http://127.0.0.1:{port}/")
