"""The REST proxy as a program sees it: a real `stoa gateway` process, real upstreams."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
from gateway_world import GatewayProcess, SnapshotSpec

from conftest import Issuer, StartGateway, Upstreams
from stoa.contract.snapshot import KeyEntry, PlanEntry, PolicyEntry, encode_snapshot


def _policy(kind: str, target: str, target_id: str, config: dict[str, object]) -> PolicyEntry:
    return PolicyEntry(
        id=f"pol_{kind}_{target}",
        tenant_id="ten_demo",
        kind=kind,
        target_type=target,  # type: ignore[arg-type]
        target_id=target_id,
        config=config,
    )


@pytest.fixture
def spec(upstreams: Upstreams) -> SnapshotSpec:
    return upstreams.spec()


@pytest.fixture
def gateway(start_gateway: StartGateway, spec: SnapshotSpec) -> GatewayProcess:
    return start_gateway(spec)


def _still_serves(gateway: GatewayProcess, spec: SnapshotSpec) -> None:
    assert spec.keys is not None
    response = httpx.get(
        f"{gateway.url}/proxy/demo/weather/forecast",
        params={"city": "Oslo"},
        headers={"x-api-key": spec.keys.good},
    )
    assert response.status_code == 200
    assert response.json()["city"] == "Oslo"


def test_key_reaches_the_weather_api(gateway: GatewayProcess, spec: SnapshotSpec) -> None:
    assert spec.keys is not None
    for headers in ({"x-api-key": spec.keys.good}, {"authorization": f"Bearer {spec.keys.good}"}):
        response = httpx.get(
            f"{gateway.url}/proxy/demo/weather/forecast", params={"city": "Paris"}, headers=headers
        )
        assert response.status_code == 200
        assert response.json()["city"] == "Paris"
        assert response.headers["x-request-id"]


def test_request_is_forwarded_without_the_callers_credential(
    gateway: GatewayProcess, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    response = httpx.post(
        f"{gateway.url}/proxy/demo/echo/items/a%20b",
        params={"q": "1"},
        headers={
            "authorization": f"Bearer {spec.keys.good}",
            "x-request-id": "trace-123",
            "x-custom": "kept",
            "connection": "keep-alive, x-hop",
            "x-hop": "dropped",
        },
        content=b'{"hello": "world"}',
    )
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/base/items/a b"
    assert echoed["query"] == "q=1"
    assert echoed["body"] == '{"hello": "world"}'
    headers = echoed["headers"]
    assert headers["x-upstream-key"] == "hunter2"
    assert "authorization" not in headers
    assert "x-hop" not in headers
    assert headers["x-custom"] == "kept"
    assert headers["x-request-id"] == "trace-123"
    assert response.headers["x-request-id"] == "trace-123"


def test_streamed_response_arrives_whole(gateway: GatewayProcess, spec: SnapshotSpec) -> None:
    assert spec.keys is not None
    # The upstream streams 1 MB without a Content-Length; the gateway relays it chunked.
    with httpx.stream(
        "GET", f"{gateway.url}/proxy/other/secret/big", headers={"x-api-key": spec.keys.other_app}
    ) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert sum(len(chunk) for chunk in response.iter_bytes()) == 1_000_000
    _still_serves(gateway, spec)


def test_missing_and_bad_keys_are_refused(gateway: GatewayProcess, spec: SnapshotSpec) -> None:
    assert spec.keys is not None
    url = f"{gateway.url}/proxy/demo/weather/forecast?city=Rome"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert (
        missing.headers["www-authenticate"]
        == f'Bearer resource_metadata="{gateway.url}/.well-known/oauth-protected-resource"'
    )
    for key, reason in (
        (spec.keys.revoked, "unknown or revoked"),
        (spec.keys.expired, "expired"),
        ("stoa_sk_made-up", "unknown or revoked"),
        ("not-a-key", "starts with stoa_sk_"),
    ):
        refused = httpx.get(url, headers={"x-api-key": key})
        assert refused.status_code == 401, key
        assert reason in refused.json()["detail"]
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert key not in refused.text
    _still_serves(gateway, spec)


def test_rotated_key_works_until_its_grace_period_ends(
    gateway: GatewayProcess, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    url = f"{gateway.url}/proxy/demo/weather/forecast?city=Rome"
    assert httpx.get(url, headers={"x-api-key": spec.keys.grace}).status_code == 200
    spec.key_entries = [
        KeyEntry(
            id=k.id, application_id=k.application_id, digest=k.digest, expires_at=time.time() - 1
        )
        if k.id == "key_grace"
        else k
        for k in spec.key_entries
    ]
    gateway.reload(spec.build())
    after = httpx.get(url, headers={"x-api-key": spec.keys.grace})
    assert after.status_code == 401
    assert "expired" in after.json()["detail"]
    _still_serves(gateway, spec)


def test_other_tenants_and_unknown_apis_are_refused(
    gateway: GatewayProcess, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    key = {"x-api-key": spec.keys.good}
    other = httpx.get(f"{gateway.url}/proxy/other/secret/anything", headers=key)
    assert other.status_code == 403
    assert "no active subscription" in other.json()["detail"]
    unknown = httpx.get(f"{gateway.url}/proxy/demo/nope/x", headers=key)
    assert unknown.status_code == 404
    # The other tenant's own key does reach it: the refusal was about the subscription.
    allowed = httpx.get(
        f"{gateway.url}/proxy/other/secret/x", headers={"x-api-key": spec.keys.other_app}
    )
    assert allowed.status_code == 200
    _still_serves(gateway, spec)


def test_suspended_subscription_stops_the_calls(
    gateway: GatewayProcess, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    url = f"{gateway.url}/proxy/demo/echo/x"
    assert httpx.get(url, headers={"x-api-key": spec.keys.good}).status_code == 200
    spec.suspended = True
    gateway.reload(spec.build())
    assert httpx.get(url, headers={"x-api-key": spec.keys.good}).status_code == 403
    _still_serves(gateway, spec)


def test_rate_limit_answers_429_with_headers(
    start_gateway: StartGateway, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    spec.plan = PlanEntry(id="pln_gold", tenant_id="ten_demo", name="gold", per_minute=3)
    gateway = start_gateway(spec)
    url = f"{gateway.url}/proxy/demo/echo/x"
    headers = {"x-api-key": spec.keys.good}
    remaining = [httpx.get(url, headers=headers).headers["ratelimit-remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = httpx.get(url, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["ratelimit-limit"] == "3"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert 0 <= int(refused.headers["ratelimit-reset"]) <= 60
    # The limit is per subscription: the weather subscription is untouched.
    _still_serves(gateway, spec)


def test_token_bucket_refuses_bursts(start_gateway: StartGateway, spec: SnapshotSpec) -> None:
    assert spec.keys is not None
    spec.plan = PlanEntry(
        id="pln_gold", tenant_id="ten_demo", name="gold", rate_per_second=0.01, burst=2
    )
    gateway = start_gateway(spec)
    url = f"{gateway.url}/proxy/demo/echo/x"
    statuses = [httpx.get(url, headers={"x-api-key": spec.keys.good}).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]


def test_quota_answers_429_until_the_day_ends(
    start_gateway: StartGateway, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    spec.plan = PlanEntry(
        id="pln_gold", tenant_id="ten_demo", name="gold", per_day=2, per_month=100
    )
    gateway = start_gateway(spec)
    url = f"{gateway.url}/proxy/demo/echo/x"
    headers = {"x-api-key": spec.keys.good}
    assert [httpx.get(url, headers=headers).status_code for _ in range(2)] == [200, 200]
    refused = httpx.get(url, headers=headers)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 60
    assert refused.headers["ratelimit-limit"] == "2"


def test_oversize_body_is_refused(start_gateway: StartGateway, spec: SnapshotSpec) -> None:
    assert spec.keys is not None
    spec.policies = [_policy("body_size", "api", "api_echo", {"max_bytes": 16})]
    gateway = start_gateway(spec)
    url = f"{gateway.url}/proxy/demo/echo/x"
    headers = {"x-api-key": spec.keys.good}
    assert httpx.post(url, headers=headers, content=b"x" * 16).status_code == 200
    refused = httpx.post(url, headers=headers, content=b"x" * 17)
    assert refused.status_code == 413
    assert "16 bytes" in refused.json()["detail"]

    def chunks():  # type: ignore[no-untyped-def]
        yield b"x" * 10
        yield b"x" * 10

    assert httpx.post(url, headers=headers, content=chunks()).status_code == 413
    _still_serves(gateway, spec)


def test_policies_filter_ips_and_rewrite_headers(
    start_gateway: StartGateway, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    spec.policies = [
        _policy("ip_filter", "api", "api_weather", {"allow": [], "deny": ["127.0.0.0/8"]}),
        _policy("headers", "plan", "pln_gold", {"set": {"x-plan": "gold"}, "remove": ["x-secret"]}),
    ]
    gateway = start_gateway(spec)
    headers = {"x-api-key": spec.keys.good, "x-secret": "s", "x-plan": "forged"}
    denied = httpx.get(f"{gateway.url}/proxy/demo/weather/forecast?city=x", headers=headers)
    assert denied.status_code == 403
    echoed = httpx.get(f"{gateway.url}/proxy/demo/echo/x", headers=headers).json()["headers"]
    assert echoed["x-plan"] == "gold"
    assert "x-secret" not in echoed


def test_cors_preflight_and_response_headers(
    start_gateway: StartGateway, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    spec.policies = [
        _policy(
            "cors",
            "tenant",
            "ten_demo",
            {
                "allow_origins": ["https://app.example"],
                "allow_methods": ["GET", "POST"],
                "allow_headers": ["x-api-key"],
                "expose_headers": [],
                "allow_credentials": False,
                "max_age_seconds": 600,
            },
        )
    ]
    gateway = start_gateway(spec)
    url = f"{gateway.url}/proxy/demo/echo/x"
    preflight = httpx.options(
        url, headers={"origin": "https://app.example", "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "GET, POST"
    bad = httpx.options(
        url, headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert bad.status_code == 403
    actual = httpx.get(url, headers={"origin": "https://app.example", "x-api-key": spec.keys.good})
    assert actual.headers["access-control-allow-origin"] == "https://app.example"


def test_upstream_down_is_502_and_then_the_circuit_opens(
    gateway: GatewayProcess, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    url = f"{gateway.url}/proxy/demo/down/x"
    headers = {"x-api-key": spec.keys.good}
    first = httpx.post(url, headers=headers, content=b"{}")
    assert first.status_code == 502
    assert "cannot be reached" in first.json()["detail"]
    statuses = [httpx.post(url, headers=headers, content=b"{}").status_code for _ in range(6)]
    assert statuses[-1] == 503
    assert "retry-after" in httpx.post(url, headers=headers).headers
    _still_serves(gateway, spec)


def test_slow_upstream_is_504(start_gateway: StartGateway, spec: SnapshotSpec) -> None:
    assert spec.keys is not None
    gateway = start_gateway(spec, env={"STOA_GATEWAY__UPSTREAM_TIMEOUT_SECONDS": "0.5"})
    # /slow sits outside the echo API's base path, so route it through the other tenant's API.
    slow = httpx.get(
        f"{gateway.url}/proxy/other/secret/slow",
        params={"seconds": "3"},
        headers={"x-api-key": spec.keys.other_app},
        timeout=10,
    )
    assert slow.status_code == 504
    assert "did not answer within 0.5 s" in slow.json()["detail"]
    _still_serves(gateway, spec)


def test_bearer_tokens_are_checked(
    gateway: GatewayProcess, spec: SnapshotSpec, issuer: Issuer
) -> None:
    url = f"{gateway.url}/proxy/demo/echo/x"
    good = issuer.token(gateway.url, stoa_app="app_dev")
    response = httpx.post(url, headers={"authorization": f"Bearer {good}"}, content=b"{}")
    assert response.status_code == 200
    assert "authorization" not in response.json()["headers"]
    # Without an application claim the subject's own applications apply (usr_dev owns app_dev).
    own = issuer.token(gateway.url)
    assert httpx.get(url, headers={"authorization": f"Bearer {own}"}).status_code == 200
    wrong_audience = issuer.token("https://elsewhere.example", stoa_app="app_dev")
    refused = httpx.get(url, headers={"authorization": f"Bearer {wrong_audience}"})
    assert refused.status_code == 401
    assert "audience" in refused.json()["detail"]
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    read_only = issuer.token(gateway.url, scope="stoa:read", stoa_app="app_dev")
    assert httpx.get(url, headers={"authorization": f"Bearer {read_only}"}).status_code == 200
    forbidden = httpx.post(url, headers={"authorization": f"Bearer {read_only}"}, content=b"{}")
    assert forbidden.status_code == 403
    assert 'error="insufficient_scope", scope="stoa:write"' in forbidden.headers["www-authenticate"]
    _still_serves(gateway, spec)


def test_pipelined_requests_are_answered_in_order(
    gateway: GatewayProcess, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    request = (
        f"GET /proxy/demo/echo/{{n}} HTTP/1.1\r\nhost: x\r\nx-api-key: {spec.keys.good}\r\n\r\n"
    )
    payload = "".join(request.replace("{n}", str(n)) for n in range(3)).encode()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(payload + b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    text = received.decode()
    assert text.count("HTTP/1.1 200 OK") == 4
    positions = [text.index(f'"path":"/base/{n}"') for n in range(3)]
    assert positions == sorted(positions)
    assert text.rstrip().endswith('{"status":"ok"}')


def test_health_metadata_and_metrics(gateway: GatewayProcess, spec: SnapshotSpec) -> None:
    assert httpx.get(f"{gateway.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{gateway.url}/readyz").json()["status"] == "ready"
    metadata = httpx.get(f"{gateway.url}/.well-known/oauth-protected-resource").json()
    assert metadata["resource"] == gateway.url
    assert metadata["scopes_supported"] == ["stoa:read", "stoa:write"]
    per_api = httpx.get(f"{gateway.url}/.well-known/oauth-protected-resource/mcp/demo/weather")
    assert per_api.json()["resource"] == f"{gateway.url}/mcp/demo/weather"
    _still_serves(gateway, spec)
    httpx.get(f"{gateway.url}/proxy/demo/weather/forecast?city=x")
    text = httpx.get(f"{gateway.url}/metrics").text
    assert (
        'stoa_gateway_requests_total{api="weather",kind="proxy",status_class="2xx",tenant="demo",tool=""}'
        in text
    )
    assert (
        'stoa_gateway_requests_total{api="weather",kind="proxy",status_class="4xx",tenant="demo",tool=""}'
        in text
    )
    assert "stoa_gateway_upstream_seconds_bucket" in text
    assert "stoa_gateway_overhead_seconds_bucket" in text
    assert "stoa_gateway_snapshot_generated_timestamp_seconds" in text
    assert 'stoa_gateway_usage_events_total{api="weather",tenant="demo"}' in text


def test_each_call_gets_one_json_access_log_line_without_the_key(
    start_gateway: StartGateway, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    gateway = start_gateway(spec, env={"STOA_GATEWAY__ACCESS_LOG": "true"})
    served = httpx.get(
        f"{gateway.url}/proxy/demo/weather/forecast",
        params={"city": "Lima"},
        headers={"x-api-key": spec.keys.good, "x-request-id": "trace-ok"},
    )
    refused = httpx.get(
        f"{gateway.url}/proxy/demo/weather/forecast",
        headers={"x-api-key": "stoa_sk_not-a-key", "x-request-id": 'trace-"bad"'},
    )
    assert (served.status_code, refused.status_code) == (200, 401)
    output = gateway.stop()  # a clean stop writes out what is buffered
    lines = {}
    for text in output.splitlines():
        if text.startswith("{") and '"stoa.gateway.access"' in text:
            line = json.loads(text)
            lines[line["request_id"]] = line
    ok, bad = lines["trace-ok"], lines['trace-"bad"']
    assert ok["status"] == 200
    assert (ok["method"], ok["path"]) == ("GET", "/proxy/demo/weather/forecast")
    assert (ok["kind"], ok["tenant"], ok["api"]) == ("proxy", "demo", "weather")
    assert ok["response_bytes"] > 0
    assert ok["upstream_ms"] > 0
    assert ok["duration_ms"] >= ok["upstream_ms"]
    assert (bad["status"], bad["upstream_ms"]) == (401, None)
    assert spec.keys.good not in output
    assert "not-a-key" not in output
    assert "Lima" not in output  # no query strings either


def test_large_and_chunked_uploads_are_streamed_upstream(
    start_gateway: StartGateway, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    spec.policies = [_policy("body_size", "plan", "pln_gold", {"max_bytes": 2_000_000})]
    gateway = start_gateway(spec)
    url = f"{gateway.url}/proxy/demo/echo/upload"
    headers = {"x-api-key": spec.keys.good}
    big = b"a" * 1_000_000
    sized = httpx.post(url, headers=headers, content=big, timeout=30)
    assert sized.status_code == 200
    assert sized.json()["body"] == big.decode()
    assert sized.json()["headers"]["content-length"] == "1000000"

    def pieces():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"b" * 100_000

    chunked = httpx.post(url, headers=headers, content=pieces(), timeout=30)
    assert chunked.status_code == 200
    assert chunked.json()["body"] == "b" * 1_000_000
    # Relayed as it came (chunked), not gathered first and sent with a length.
    assert chunked.json()["headers"]["transfer-encoding"] == "chunked"

    def too_much():  # type: ignore[no-untyped-def]
        for _ in range(30):
            yield b"c" * 100_000

    refused = httpx.post(url, headers=headers, content=too_much(), timeout=30)
    assert refused.status_code == 413
    assert "2000000 bytes" in refused.json()["detail"]
    declared = httpx.post(url, headers=headers, content=b"d" * 2_000_001, timeout=30)
    assert declared.status_code == 413
    # Refused before anything was read: no credential, body still coming.
    anonymous = httpx.post(url, content=pieces(), timeout=30)
    assert anonymous.status_code == 401
    _still_serves(gateway, spec)


def test_http10_client_gets_a_close_delimited_body(
    gateway: GatewayProcess, spec: SnapshotSpec
) -> None:
    assert spec.keys is not None
    request = f"GET /proxy/other/secret/big HTTP/1.0\r\nx-api-key: {spec.keys.other_app}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert len(body) == 1_000_000


@pytest.mark.parametrize("workers", [1, 2])
def test_gateway_on_a_port_in_use_says_so_and_exits(
    tmp_path: Path, spec: SnapshotSpec, workers: int
) -> None:
    snapshot_file = tmp_path / "snapshot.json"
    snapshot_file.write_bytes(encode_snapshot(spec.build()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        gateway = GatewayProcess(snapshot_file, taken.getsockname()[1], workers=workers)
        try:
            status = gateway.process.wait(timeout=30)
        finally:
            output = gateway.stop()
    assert status == 1
    assert "cannot listen on 127.0.0.1:" in output
    assert "Address already in use" in output
    assert "Traceback" not in output
