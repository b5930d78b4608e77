"""Usage batches: what a gateway sends to `POST /v1/internal/usage`.

A batch is the events one gateway worker collected during one flush interval (or part
of them: at most `MAX_EVENTS_PER_BATCH`), under an idempotency key `id` that the
gateway chooses once and keeps across retries. The control plane stores a batch once
per sender and `id`; a retried batch is answered as a success without counting twice.

Versioning as for the snapshot: `schema_version` changes when a field changes meaning or
a required field is added; optional fields with defaults may be added without a change.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

SCHEMA_VERSION = 1
MAX_EVENTS_PER_BATCH = 10_000
MAX_ROUTE_LENGTH = 255  # longer routes (REST paths) are cut to this by the gateway

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class UsageRecord(msgspec.Struct, frozen=True):
    """One call as the control plane receives it.

    `tenant_id` is the tenant that owns the API; `route` is the tool name for MCP calls,
    `METHOD /path` for REST calls; `at` is when the call ended, Unix seconds.
    """

    at: Annotated[float, msgspec.Meta(gt=0)]
    tenant_id: _Id
    application_id: _Id
    subscription_id: _Id
    api_id: _Id
    route: Annotated[str, msgspec.Meta(max_length=MAX_ROUTE_LENGTH)]
    status: Annotated[int, msgspec.Meta(ge=0, le=999)]
    latency_ms: Annotated[float, msgspec.Meta(ge=0)]
    request_bytes: _Count
    response_bytes: _Count


class UsageBatch(msgspec.Struct, frozen=True):
    schema_version: int
    id: Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    events: Annotated[list[UsageRecord], msgspec.Meta(max_length=MAX_EVENTS_PER_BATCH)]
    # Which gateway and worker produced it: for logs and diagnosis, not for identity
    # (the sender is whoever the credential says it is).
    origin: Annotated[str, msgspec.Meta(max_length=200)] = ""


class UsageBatchError(ValueError):
    """The bytes are not a usage batch this version of STOA accepts; says why."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(UsageBatch)


def encode_usage_batch(batch: UsageBatch) -> bytes:
    return _encoder.encode(batch)


def decode_usage_batch(data: bytes) -> UsageBatch:
    """Decode and validate a batch, or raise `UsageBatchError` saying what is wrong."""
    try:
        batch = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UsageBatchError(f"not a valid usage batch: {exc}") from exc
    if batch.schema_version != SCHEMA_VERSION:
        raise UsageBatchError(
            f"usage batch schema version {batch.schema_version} is not supported "
            f"(this control plane reads version {SCHEMA_VERSION})"
        )
    return batch
