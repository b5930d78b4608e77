"""The hash chain: how an entry's hash is computed, so writing and verifying agree."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
PLATFORM_CHAIN = "platform"


def chain_for(tenant_id: str | None) -> str:
    return tenant_id or PLATFORM_CHAIN


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """sha256 over the previous hash and the entry's canonical JSON (datetimes as ISO 8601)."""
    normalized = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
    return hashlib.sha256((prev_hash + canonical_json(normalized)).encode()).hexdigest()


HASHED_FIELDS = (
    "id",
    "chain",
    "seq",
    "tenant_id",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "before",
    "after",
    "source_ip",
    "user_agent",
    "request_id",
)
