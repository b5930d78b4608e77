"""Policy configs: what each kind accepts, the normalized form gateways receive, and what
each refusal tells the user."""

from __future__ import annotations

from typing import Any

import pytest

from stoa.controlplane.policy.config import normalized_config
from stoa.kit.errors import InvalidInput


def refusal(kind: str, config: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        normalized_config(kind, config)
    return raised.value


@pytest.mark.parametrize(
    ("kind", "config", "normalized"),
    [
        (
            "ip_filter",
            {"allow": [" 10.0.0.0/8", "10.0.0.0/8", "2001:DB8:0:0::/32", "192.0.2.1", "::1"]},
            {"allow": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32", "::1/128"], "deny": []},
        ),
        (
            "ip_filter",
            {"allow": ["10.0.0.0/8"], "deny": ["10.1.0.0/16"]},
            {"allow": ["10.0.0.0/8"], "deny": ["10.1.0.0/16"]},
        ),
        (
            "cors",
            {
                "allow_origins": [
                    "HTTPS://App.Example.com:443",
                    "http://localhost:3000",
                    "http://[::1]:80",
                    "https://app.example.com",
                ],
                "allow_methods": ["get", "PUT", "GET"],
                "allow_headers": ["Content-Type", "X-Request-Id"],
                "expose_headers": ["RateLimit-Remaining"],
                "allow_credentials": True,
                "max_age_seconds": 86400,
            },
            {
                "allow_origins": [
                    "https://app.example.com",
                    "http://localhost:3000",
                    "http://[::1]",
                ],
                "allow_methods": ["GET", "PUT"],
                "allow_headers": ["content-type", "x-request-id"],
                "expose_headers": ["ratelimit-remaining"],
                "allow_credentials": True,
                "max_age_seconds": 86400,
            },
        ),
        (
            "cors",
            {"allow_origins": ["*"], "allow_headers": ["*"]},
            {
                "allow_origins": ["*"],
                "allow_methods": ["GET", "HEAD", "POST"],
                "allow_headers": ["*"],
                "expose_headers": [],
                "allow_credentials": False,
                "max_age_seconds": 600,
            },
        ),
        ("body_size", {"max_bytes": 1}, {"max_bytes": 1}),
        ("body_size", {"max_bytes": 100 * 1024 * 1024}, {"max_bytes": 104857600}),
        (
            "headers",
            {"set": {"X-Tenant": " acme\t", "X-Empty": ""}, "remove": ["Cookie", "cookie"]},
            {"set": {"x-tenant": "acme", "x-empty": ""}, "remove": ["cookie"]},
        ),
        (
            "tool_filter",
            {"allow": ["getForecast", "echo", "echo"], "deny": ["v1.delete-all"]},
            {"allow": ["getForecast", "echo"], "deny": ["v1.delete-all"]},
        ),
        ("tool_filter", {"deny": ["drop_table"]}, {"allow": None, "deny": ["drop_table"]}),
    ],
)
def test_valid_configs_come_back_normalized_with_every_default(
    kind: str, config: dict[str, Any], normalized: dict[str, Any]
) -> None:
    assert normalized_config(kind, config) == normalized
    # Normalizing is idempotent: what is stored passes again unchanged.
    assert normalized_config(kind, normalized) == normalized


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        (
            {"allow": ["10.0.0.1/8"]},
            "config.allow.0",
            "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?",
        ),
        ({"deny": ["2001:db8::1/32"]}, "config.deny.0", "did you mean 2001:db8::/32?"),
        (
            {"allow": ["10.0.0.0/33"]},
            "config.allow.0",
            "'10.0.0.0/33' is not an IP address or CIDR block",
        ),
        ({"allow": ["example.com"]}, "config.allow.0", "is not an IP address or CIDR block"),
        ({"allow": [], "deny": []}, "config", "list at least one CIDR block in allow or deny"),
        ({}, "config", "list at least one CIDR block"),
        (
            {"allow": ["10.0.0.0/8"], "deny": ["10.0.0.0/8"]},
            "config",
            "10.0.0.0/8 is in both allow and deny",
        ),
        (
            {"allow": ["10.0.0.0/8"], "block": ["1.2.3.4"]},
            "config.block",
            "Extra inputs are not permitted",
        ),
    ],
)
def test_ip_filter_refusals(config: dict[str, Any], field: str, message: str) -> None:
    error = refusal("ip_filter", config)
    assert error.extra["errors"][0]["field"] == field
    assert message in error.detail


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"allow_origins": []}, "config.allow_origins", "at least 1 item"),
        (
            {"allow_origins": ["app.example.com"]},
            "config.allow_origins.0",
            "it must start with https:// or http://",
        ),
        (
            {"allow_origins": ["ftp://files.example.com"]},
            "config.allow_origins.0",
            "it must start with https:// or http://",
        ),
        (
            {"allow_origins": ["https://app.example.com/"]},
            "config.allow_origins.0",
            "has a path: an origin is scheme://host[:port] only, as in https://app.example.com",
        ),
        (
            {"allow_origins": ["https://app.example.com/login?next=1"]},
            "config.allow_origins.0",
            "has a path",
        ),
        (
            {"allow_origins": ["https://user:pw@app.example.com"]},
            "config.allow_origins.0",
            "remove the user name and password",
        ),
        (
            {"allow_origins": ["https://*.example.com"]},
            "config.allow_origins.0",
            "wildcards are not supported",
        ),
        ({"allow_origins": ["https://bücher.example"]}, "config.allow_origins.0", "punycode"),
        (
            {"allow_origins": ["https://app.example.com:99999"]},
            "config.allow_origins.0",
            "is not an origin",
        ),
        ({"allow_origins": ["https://[::g]"]}, "config.allow_origins.0", "is not an origin"),
        (
            {"allow_origins": ["*", "https://app.example.com"]},
            "config",
            '"*" already allows every origin',
        ),
        (
            {"allow_origins": ["*"], "allow_credentials": True},
            "config",
            'allow_origins "*" cannot be combined with allow_credentials: browsers refuse',
        ),
        (
            {
                "allow_origins": ["https://a.example"],
                "allow_methods": ["*"],
                "allow_credentials": True,
            },
            "config",
            'allow_methods "*" with allow_credentials is read by browsers as a literal',
        ),
        (
            {
                "allow_origins": ["https://a.example"],
                "expose_headers": ["*"],
                "allow_credentials": True,
            },
            "config",
            "expose_headers",
        ),
        (
            {"allow_origins": ["https://a.example"], "allow_methods": ["GET POST"]},
            "config.allow_methods.0",
            "'GET POST' is not an HTTP method",
        ),
        (
            {"allow_origins": ["https://a.example"], "allow_headers": ["X Id"]},
            "config.allow_headers.0",
            "'X Id' is not a header name",
        ),
        (
            {"allow_origins": ["https://a.example"], "max_age_seconds": 86401},
            "config.max_age_seconds",
            "less than or equal to 86400",
        ),
        (
            {"allow_origins": ["https://a.example"], "max_age_seconds": -1},
            "config.max_age_seconds",
            "greater than or equal to 0",
        ),
    ],
)
def test_cors_refusals(config: dict[str, Any], field: str, message: str) -> None:
    error = refusal("cors", config)
    assert error.extra["errors"][0]["field"] == field
    assert message in error.detail


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"max_bytes": 0}, "config.max_bytes", "greater than or equal to 1"),
        (
            {"max_bytes": 100 * 1024 * 1024 + 1},
            "config.max_bytes",
            "less than or equal to 104857600",
        ),
        ({}, "config.max_bytes", "Field required"),
        ({"max_bytes": "lots"}, "config.max_bytes", "valid integer"),
    ],
)
def test_body_size_refusals(config: dict[str, Any], field: str, message: str) -> None:
    error = refusal("body_size", config)
    assert error.extra["errors"][0]["field"] == field
    assert message in error.detail


MANAGED = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-authenticate",
]


@pytest.mark.parametrize("name", MANAGED)
def test_hop_by_hop_headers_are_the_gateways_own(name: str) -> None:
    for config in ({"set": {name.title(): "x"}}, {"remove": [name]}):
        error = refusal("headers", config)
        assert f"header {name} cannot be set or removed by a policy: it is hop-by-hop" in (
            error.detail
        )


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        (
            {"set": {"Host": "internal"}},
            "config.set.Host",
            "header host cannot be set or removed by a policy: it is set by the gateway from "
            "the API's upstream URL",
        ),
        (
            {"set": {"Authorization": "Bearer x"}},
            "config.set.Authorization",
            "the gateway drops the caller's and adds the API's upstream credential",
        ),
        (
            {"remove": ["authorization"]},
            "config.remove.0",
            "header authorization cannot be set or removed",
        ),
        ({"set": {"Content-Length": "1"}}, "config.set.Content-Length", "frames the body"),
        ({"set": {"X-A": "a\r\nX-Injected: 1"}}, "config.set.X-A", "cannot contain line breaks"),
        ({"set": {"X-A": "a\nb"}}, "config.set.X-A", "cannot contain line breaks"),
        ({"set": {"X-A": "a\x00b"}}, "config.set.X-A", "control characters"),
        ({"set": {"X A": "b"}}, "config.set.X A", "'X A' is not a header name"),
        ({"set": {"x-é": "b"}}, "config.set.x-é", "is not a header name"),
        ({"set": {"X-Trace": "1", "x-trace": "2"}}, "config.set", "header x-trace is set twice"),
        (
            {"set": {"X-Trace": "1"}, "remove": ["x-trace"]},
            "config",
            "x-trace is both set and removed",
        ),
        ({}, "config", "list headers to set or to remove"),
        ({"set": {}, "remove": []}, "config", "list headers to set or to remove"),
        ({"add": {"x-a": "b"}}, "config.add", "Extra inputs are not permitted"),
    ],
)
def test_headers_refusals(config: dict[str, Any], field: str, message: str) -> None:
    error = refusal("headers", config)
    assert error.extra["errors"][0]["field"] == field
    assert message in error.detail


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"allow": []}, "config.allow", "use null for all tools, or list at least one"),
        (
            {"allow": ["get forecast"]},
            "config.allow.0",
            "'get forecast' is not a tool name: use 1 to 128 letters",
        ),
        ({"deny": ["x" * 129]}, "config.deny.0", "is not a tool name"),
        ({"deny": ["toolbox/echo"]}, "config.deny.0", "is not a tool name"),
        ({"allow": None, "deny": []}, "config", "list tools to allow or to deny"),
        ({}, "config", "list tools to allow or to deny"),
        (
            {"allow": ["echo", "drop"], "deny": ["drop"]},
            "config",
            "drop is both allowed and denied",
        ),
    ],
)
def test_tool_filter_refusals(config: dict[str, Any], field: str, message: str) -> None:
    error = refusal("tool_filter", config)
    assert error.extra["errors"][0]["field"] == field
    assert message in error.detail


def test_an_unknown_kind_is_named_and_a_non_object_config_refused() -> None:
    unknown = refusal("rate_limit", {"per_second": 1})
    assert unknown.extra["errors"] == [
        {"field": "kind", "message": "'rate_limit' is not a policy kind"}
    ]
    not_an_object = refusal("body_size", ["max_bytes", 1])
    assert not_an_object.extra["errors"][0]["field"] == "config"


def test_user_text_with_braces_is_reported_verbatim() -> None:
    error = refusal("tool_filter", {"allow": ["{name}"]})
    assert "'{name}' is not a tool name" in error.detail
