"""The typed configuration of each policy kind, validated and normalized once, here.

What leaves this module (`model_dump(mode="json")` of a config) is what the gateway
receives in its snapshot: canonical CIDR strings, lower-cased header names, origins
without default ports, duplicates removed and every default filled in, so the gateway
compiles it without validating again.

Pure: no I/O. `normalized_config` is the one entry point for services; the models and
`TypedConfig` (one discriminated union on `kind`) also serve as request schemas.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Annotated, Any, Final, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from stoa.kit.errors import InvalidInput

PolicyKind = Literal["ip_filter", "cors", "body_size", "headers", "tool_filter"]
POLICY_KINDS: Final[tuple[PolicyKind, ...]] = (
    "ip_filter",
    "cors",
    "body_size",
    "headers",
    "tool_filter",
)

# Tool names as their API names them (the MCP tool-name charset), also used by plans.
TOOL_NAME_PATTERN: Final = r"^[A-Za-z0-9_.-]{1,128}$"
_TOOL_NAME: Final = re.compile(TOOL_NAME_PATTERN)
# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DNS_NAME: Final = re.compile(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_BODY_BYTES: Final = 100 * 1024 * 1024

_HOP_BY_HOP: Final = (
    "is hop-by-hop: it describes one connection, and the gateway manages each of its "
    "connections itself"
)
# Headers a `headers` policy may neither set nor remove, and why.
GATEWAY_MANAGED_HEADERS: Final[dict[str, str]] = {
    "connection": _HOP_BY_HOP,
    "keep-alive": _HOP_BY_HOP,
    "transfer-encoding": _HOP_BY_HOP,
    "upgrade": _HOP_BY_HOP,
    "te": _HOP_BY_HOP,
    "trailer": _HOP_BY_HOP,
    "proxy-authorization": _HOP_BY_HOP,
    "proxy-authenticate": _HOP_BY_HOP,
    "host": "is set by the gateway from the API's upstream URL",
    "authorization": (
        "carries credentials: the gateway drops the caller's and adds the API's upstream "
        "credential itself"
    ),
    "content-length": "frames the body, which the gateway does itself",
}

T = TypeVar("T")


def _refusal(message: str) -> PydanticCustomError:
    # The message goes in the context so that braces in user input are not a template.
    return PydanticCustomError("policy_config", "{reason}", {"reason": message})


def _unique(values: Iterable[T]) -> list[T]:
    """`values` without repeats, in first-seen order."""
    return list(dict.fromkeys(values))


def _tool_name(value: str) -> str:
    if not _TOOL_NAME.fullmatch(value):
        raise _refusal(
            f"{value!r} is not a tool name: use 1 to 128 letters, digits, '_', '.' or '-'"
        )
    return value


ToolName = Annotated[
    str, AfterValidator(_tool_name), Field(json_schema_extra={"pattern": TOOL_NAME_PATTERN})
]


def normalized_tool_names(names: list[str] | None) -> list[str] | None:
    """A tool list without repeats; None (all tools) stays None, an empty list is refused
    because it would make nothing callable, which is never what anyone means."""
    if names is None:
        return None
    if not names:
        raise _refusal("use null for all tools, or list at least one")
    return _unique(names)


def _network(value: str) -> str:
    text = value.strip()
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _refusal(
            f"{value!r} is not an IP address or CIDR block, e.g. 203.0.113.0/24 or 2001:db8::/32"
        ) from None
    raise _refusal(f"{text} has host bits set; did you mean {loose}?")


Cidr = Annotated[str, Field(max_length=64), AfterValidator(_network)]


def _origin(value: str) -> str:
    text = value.strip()
    if text == "*":
        return text
    example = "e.g. https://app.example.com or http://localhost:3000"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _refusal(f"{text!r} is not an origin; {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refusal(f"{text!r} is not an origin: it must start with https:// or http://")
    if parts.username is not None or parts.password is not None:
        raise _refusal(f"{text!r} is not an origin: remove the user name and password")
    host = parts.hostname or ""
    if ":" in host:
        try:
            host = f"[{ipaddress.IPv6Address(host)}]"
        except ValueError:
            raise _refusal(f"{text!r} is not an origin: {host} is not an IPv6 address") from None
    elif not _DNS_NAME.fullmatch(host):
        raise _refusal(
            f"{text!r} is not an origin: the host must be a DNS name or IP address in ASCII "
            "(punycode for international names); wildcards are not supported"
        )
    if port == 0:
        raise _refusal(f"{text!r} is not an origin: port 0 is not a port")
    # Browsers leave the default port out of the Origin header.
    origin = f"{scheme}://{host}"
    if port not in (None, _DEFAULT_PORTS[scheme]):
        origin += f":{port}"
    if parts.path or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise _refusal(
            f"{text!r} has a path: an origin is scheme://host[:port] only, as in {origin}"
        )
    return origin


Origin = Annotated[str, Field(max_length=300), AfterValidator(_origin)]


def _method(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise _refusal(f"{value!r} is not an HTTP method")
    return value.upper()


Method = Annotated[str, Field(max_length=32), AfterValidator(_method)]


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise _refusal(
            f"{value!r} is not a header name: use letters, digits and !#$%&'*+-.^_`|~ only"
        )
    return value.lower()


HeaderName = Annotated[str, Field(max_length=128), AfterValidator(_header_name)]


def _managed_header_name(value: str) -> str:
    name = _header_name(value)
    reason = GATEWAY_MANAGED_HEADERS.get(name)
    if reason is not None:
        raise _refusal(f"header {name} cannot be set or removed by a policy: it {reason}")
    return name


ManagedHeaderName = Annotated[str, Field(max_length=128), AfterValidator(_managed_header_name)]


def _header_value(value: str) -> str:
    # RFC 9110 section 5.5: no CR, LF, NUL or other controls (tab excepted); surrounding
    # whitespace is not part of the value.
    if any((ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F for char in value):
        raise _refusal("header values cannot contain line breaks or other control characters")
    return value.strip(" \t")


HeaderValue = Annotated[str, Field(max_length=8192), AfterValidator(_header_value)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IpFilterConfig(_Config):
    """Admits or refuses callers by the IP address the gateway sees them connect from,
    before any other check. A caller in `deny` is refused (403); if `allow` is not empty,
    a caller outside every `allow` block is refused too. Deny wins over allow."""

    allow: list[Cidr] = Field(
        default_factory=list,
        max_length=1000,
        description="CIDR blocks or single addresses (IPv4 or IPv6) allowed to call; empty "
        "allows every address not denied",
    )
    deny: list[Cidr] = Field(
        default_factory=list,
        max_length=1000,
        description="CIDR blocks or single addresses refused even if allowed",
    )

    @field_validator("allow", "deny")
    @classmethod
    def _without_repeats(cls, networks: list[str]) -> list[str]:
        return _unique(networks)

    @model_validator(mode="after")
    def _meaningful(self) -> Self:
        if not self.allow and not self.deny:
            raise _refusal("list at least one CIDR block in allow or deny")
        both = [network for network in self.allow if network in self.deny]
        if both:
            raise _refusal(f"{', '.join(both)} is in both allow and deny; keep it in one")
        return self


class CorsConfig(_Config):
    """Answers browser preflight (`OPTIONS`) requests at the gateway and adds the
    `Access-Control-*` headers to responses for the origins listed. Preflights carry no
    credentials, so a CORS policy applies to a tenant or an API, never to a plan."""

    allow_origins: list[Origin] = Field(
        min_length=1,
        max_length=100,
        description='Origins as scheme://host[:port], e.g. "https://app.example.com", or '
        '"*" alone for any origin (not with allow_credentials)',
    )
    allow_methods: list[Method] = Field(
        default_factory=lambda: ["GET", "HEAD", "POST"],
        max_length=50,
        description='Methods a cross-origin request may use (upper-cased), or "*"',
    )
    allow_headers: list[HeaderName] = Field(
        default_factory=list,
        max_length=100,
        description='Request headers a cross-origin request may send (lower-cased), or "*"',
    )
    expose_headers: list[HeaderName] = Field(
        default_factory=list,
        max_length=100,
        description='Response headers the browser lets scripts read (lower-cased), or "*"',
    )
    allow_credentials: bool = Field(
        default=False, description="Whether browsers may send cookies and credentials"
    )
    max_age_seconds: int = Field(
        default=600, ge=0, le=86400, description="How long browsers may cache a preflight answer"
    )

    @field_validator("allow_origins", "allow_methods", "allow_headers", "expose_headers")
    @classmethod
    def _without_repeats(cls, values: list[str]) -> list[str]:
        return _unique(values)

    @model_validator(mode="after")
    def _browsers_accept_it(self) -> Self:
        if "*" in self.allow_origins and len(self.allow_origins) > 1:
            raise _refusal('"*" already allows every origin; list it alone or list origins')
        if self.allow_credentials:
            if "*" in self.allow_origins:
                raise _refusal(
                    'allow_origins "*" cannot be combined with allow_credentials: browsers '
                    "refuse credentialed responses for a wildcard origin; list the origins"
                )
            for field in ("allow_methods", "allow_headers", "expose_headers"):
                if "*" in getattr(self, field):
                    raise _refusal(
                        f'{field} "*" with allow_credentials is read by browsers as a literal '
                        "name, not a wildcard; list the names"
                    )
        return self


class BodySizeConfig(_Config):
    """Refuses requests whose body is larger than `max_bytes` with 413, before anything
    reaches the upstream (whether the size is declared or only seen while streaming)."""

    max_bytes: int = Field(ge=1, le=MAX_BODY_BYTES, description="At most 104857600 (100 MiB)")


class HeadersConfig(_Config):
    """Changes the request the gateway forwards upstream: sets headers (replacing any the
    caller sent) and removes others. Header names are lower-cased; connection-level
    headers, `host`, `authorization` and `content-length` are the gateway's own."""

    set: dict[ManagedHeaderName, HeaderValue] = Field(
        default_factory=dict, max_length=100, description="Header name to value"
    )
    remove: list[ManagedHeaderName] = Field(
        default_factory=list, max_length=100, description="Header names to remove"
    )

    @field_validator("set", mode="before")
    @classmethod
    def _one_value_per_name(cls, headers: Any) -> Any:
        if isinstance(headers, dict):
            seen: set[str] = set()
            for name in headers:
                folded = name.lower() if isinstance(name, str) else name
                if folded in seen:
                    raise _refusal(
                        f"header {folded} is set twice (names ignore case); keep one value"
                    )
                seen.add(folded)
        return headers

    @field_validator("remove")
    @classmethod
    def _without_repeats(cls, names: list[str]) -> list[str]:
        return _unique(names)

    @model_validator(mode="after")
    def _meaningful(self) -> Self:
        if not self.set and not self.remove:
            raise _refusal("list headers to set or to remove")
        both = [name for name in self.remove if name in self.set]
        if both:
            raise _refusal(f"{', '.join(both)} is both set and removed; keep one")
        return self


class ToolFilterConfig(_Config):
    """Narrows which MCP tools callers see and may call: `tools/list` omits the others and
    `tools/call` refuses them. Names are tool names as their API names them (`echo`, not
    `toolbox__echo`). Deny wins over allow."""

    allow: list[ToolName] | None = Field(
        default=None,
        max_length=1000,
        description="The only tools callable; null for every tool not denied",
    )
    deny: list[ToolName] = Field(
        default_factory=list, max_length=1000, description="Tools never callable"
    )

    @field_validator("allow")
    @classmethod
    def _allow_something(cls, names: list[str] | None) -> list[str] | None:
        return normalized_tool_names(names)

    @field_validator("deny")
    @classmethod
    def _without_repeats(cls, names: list[str]) -> list[str]:
        return _unique(names)

    @model_validator(mode="after")
    def _meaningful(self) -> Self:
        if self.allow is None and not self.deny:
            raise _refusal("list tools to allow or to deny")
        both = [name for name in self.deny if self.allow is not None and name in self.allow]
        if both:
            raise _refusal(f"{', '.join(both)} is both allowed and denied; keep it in one")
        return self


class _Typed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IpFilterPolicy(_Typed):
    kind: Literal["ip_filter"]
    config: IpFilterConfig


class CorsPolicy(_Typed):
    kind: Literal["cors"]
    config: CorsConfig


class BodySizePolicy(_Typed):
    kind: Literal["body_size"]
    config: BodySizeConfig


class HeadersPolicy(_Typed):
    kind: Literal["headers"]
    config: HeadersConfig


class ToolFilterPolicy(_Typed):
    kind: Literal["tool_filter"]
    config: ToolFilterConfig


TypedConfig = Annotated[
    IpFilterPolicy | CorsPolicy | BodySizePolicy | HeadersPolicy | ToolFilterPolicy,
    Field(discriminator="kind"),
]
_typed_config: TypeAdapter[
    IpFilterPolicy | CorsPolicy | BodySizePolicy | HeadersPolicy | ToolFilterPolicy
] = TypeAdapter(TypedConfig)


def _field(location: tuple[int | str, ...]) -> str:
    # Locations read (kind, "config", ...); callers know the kind, so report "config...".
    # A dict key's location ends in "[key]", which says nothing to a reader.
    return ".".join(str(part) for part in ("config", *location[2:]) if part != "[key]")


def normalized_config(kind: str, raw: Any) -> dict[str, Any]:
    """`raw` validated as the config of a `kind` policy, in the normalized JSON form the
    gateway receives. Raises `InvalidInput` (with `errors`: field and message each) for an
    unknown kind or a config that breaks a rule."""
    try:
        typed = _typed_config.validate_python({"kind": kind, "config": raw})
    except ValidationError as error:
        errors = [
            {"field": _field(tuple(item["loc"])), "message": item["msg"]} for item in error.errors()
        ]
        if any(item["type"] == "union_tag_invalid" for item in error.errors()):
            errors = [{"field": "kind", "message": f"{kind!r} is not a policy kind"}]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise InvalidInput(summary, errors=errors) from None
    return typed.config.model_dump(mode="json")
