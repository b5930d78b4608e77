"""The config snapshot: everything a gateway needs to serve, and nothing it must not see.

Built by the control plane, decoded by gateways. It holds only what is live: APIs that are
published or deprecated, of active tenants; active subscriptions of applications whose
tenant is active; keys that are not revoked. Key secrets appear only as HMAC digests.

Versioning: `schema_version` changes when a field changes meaning or a required field is
added; gateways refuse a snapshot whose version they do not know. Optional fields with
defaults may be added without a version change.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import msgspec

from stoa.kit.gc_pause import gc_paused

SCHEMA_VERSION = 1

# Entries whose fields are only strings, numbers and lists of strings cannot be part of a
# reference cycle, so they are not tracked by the garbage collector (`gc=False`): a
# snapshot holds hundreds of thousands of them, which every full collection in a gateway
# worker would otherwise walk.


class UpstreamAuth(msgspec.Struct, frozen=True, gc=False):
    """A credential the gateway adds to upstream requests: a header or a query parameter."""

    location: Literal["header", "query"]
    name: str
    value: str


class ToolEntry(msgspec.Struct, frozen=True):
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] = msgspec.field(default_factory=dict)
    # REST tools: how arguments become an HTTP request (method, path, parameters, body).
    binding: dict[str, Any] | None = None


class ApiEntry(msgspec.Struct, frozen=True):
    id: str
    tenant_id: str
    tenant: str  # slug
    name: str
    kind: Literal["rest", "mcp"]
    lifecycle: Literal["published", "deprecated"]
    visibility: Literal["public", "tenant"]
    upstream_url: str  # REST backend base URL or MCP Streamable HTTP URL
    tools: list[ToolEntry]
    upstream_auth: UpstreamAuth | None = None


class PlanEntry(msgspec.Struct, frozen=True, gc=False):
    id: str
    tenant_id: str
    name: str
    rate_per_second: float | None = None
    burst: int | None = None
    per_minute: int | None = None
    per_day: int | None = None
    per_month: int | None = None
    tool_allowlist: list[str] | None = None


class ApplicationEntry(msgspec.Struct, frozen=True, gc=False):
    id: str
    owner_id: str
    tenant_id: str | None


class SubscriptionEntry(msgspec.Struct, frozen=True, gc=False):
    id: str
    application_id: str
    api_id: str
    plan_id: str


class KeyEntry(msgspec.Struct, frozen=True, gc=False):
    id: str
    application_id: str
    digest: str  # hex HMAC-SHA256 of the presented `stoa_sk_...` string
    expires_at: float | None = None  # Unix seconds; rotation grace ends here too


class PolicyEntry(msgspec.Struct, frozen=True):
    id: str
    tenant_id: str
    kind: str
    target_type: Literal["tenant", "api", "plan"]
    target_id: str
    config: dict[str, Any]


class GatewaySecrets(msgspec.Struct, frozen=True, gc=False):
    """Secrets a gateway needs to check what callers present, base64-encoded.

    `key_hash_secret` is the HMAC key of API-key digests: without it a gateway cannot
    compute the digest of a presented key. `session_secret` signs the MCP session ids a
    gateway issues, so that any replica accepts any other's sessions.
    """

    key_hash_secret: str
    session_secret: str


class Snapshot(msgspec.Struct, frozen=True):
    schema_version: int
    generated_at: float  # Unix seconds
    apis: list[ApiEntry]
    plans: list[PlanEntry]
    applications: list[ApplicationEntry]
    subscriptions: list[SubscriptionEntry]
    keys: list[KeyEntry]
    policies: list[PolicyEntry]
    # Optional so that snapshots built without secrets (tests, tools) still decode; a
    # gateway that must check API keys refuses a snapshot without them.
    secrets: GatewaySecrets | None = None


_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(Snapshot)


class SnapshotError(ValueError):
    """The bytes are not a snapshot this version of STOA can serve."""


def content_hash(snapshot: Snapshot) -> str:
    """The hash that identifies a snapshot's content; equal content, equal hash.

    `generated_at` is left out, so rebuilding an unchanged config yields the same hash
    and gateways do not reload for nothing.
    """
    body = msgspec.structs.replace(snapshot, generated_at=0.0)
    return hashlib.sha256(_encoder.encode(body)).hexdigest()


def encode_snapshot(snapshot: Snapshot) -> bytes:
    return _encoder.encode(snapshot)


def decode_snapshot(data: bytes) -> Snapshot:
    """Decode and type-check a snapshot, or raise `SnapshotError` saying why."""
    try:
        with gc_paused():
            snapshot = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(f"not a valid snapshot: {exc}") from exc
    if snapshot.schema_version != SCHEMA_VERSION:
        raise SnapshotError(
            f"snapshot schema version {snapshot.schema_version} is not supported "
            f"(this gateway reads version {SCHEMA_VERSION})"
        )
    return snapshot
