"""The snapshot the benchmarked gateway serves: one tenant, its APIs, one caller's key.

Built with the contract types, as the control plane would, so the gateway loads it the
way it loads a real one. The caller's key digest uses `stoa.kit.api_key`, keyed by a
fresh HMAC secret that reaches the gateway both inside the snapshot (`secrets`, when the
contract has that field) and as `$STOA_DATA_DIR/api-key-hash.key`.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stoa.contract import snapshot as contract
from stoa.kit.api_key import generate_key

TENANT = "bench"
OPEN_API = "open"  # REST, subscribed with a plan without limits
LIMITED_API = "limited"  # REST, subscribed with the generous rate-limited plan
MCP_API = "toolbox"  # MCP, subscribed with the rate-limited plan
ECHO_TOOL = "echo"

# Far above anything one machine can send, yet every limit is set, so the limiter does
# all its work on every call.
GENEROUS_LIMITS: dict[str, Any] = {
    "rate_per_second": 10_000_000.0,
    "burst": 10_000_000,
    "per_minute": 1_000_000_000,
    "per_day": 100_000_000_000,
    "per_month": 1_000_000_000_000,
}


@dataclass(frozen=True, slots=True)
class BenchSnapshot:
    path: Path
    api_key: str  # the `stoa_sk_...` secret the load generator presents
    has_secrets: bool  # whether the contract carried the HMAC key inside the snapshot


def _ids(prefix: str) -> str:
    return f"{prefix}_BENCH{secrets.token_hex(8).upper()}"


def _secrets_entry(hash_secret: bytes) -> Any | None:
    entry_type = getattr(contract, "GatewaySecrets", None)
    if entry_type is None:
        return None
    return entry_type(
        key_hash_secret=base64.b64encode(hash_secret).decode(),
        session_secret=base64.b64encode(os.urandom(32)).decode(),
    )


def write_snapshot(data_dir: Path, rest_upstream: str, mcp_upstream: str) -> BenchSnapshot:
    """Write the snapshot to `data_dir/bench-snapshot.json` and the key-hash secret beside it."""
    hash_secret = os.urandom(32)
    key_file = data_dir / "api-key-hash.key"
    key_file.write_bytes(hash_secret)
    key_file.chmod(0o600)
    key = generate_key(hash_secret)

    tenant_id, owner_id, app_id = _ids("ten"), _ids("usr"), _ids("app")
    echo = contract.ToolEntry(
        name=ECHO_TOOL,
        description="Return the text it is given.",
        input_schema={
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
        annotations={"readOnlyHint": True},
    )

    def api(
        name: str, kind: Literal["rest", "mcp"], upstream: str, tools: list[contract.ToolEntry]
    ) -> contract.ApiEntry:
        return contract.ApiEntry(
            id=_ids("api"),
            tenant_id=tenant_id,
            tenant=TENANT,
            name=name,
            kind=kind,
            lifecycle="published",
            visibility="tenant",
            upstream_url=upstream,
            tools=tools,
        )

    apis = [
        api(OPEN_API, "rest", rest_upstream, []),
        api(LIMITED_API, "rest", rest_upstream, []),
        api(MCP_API, "mcp", mcp_upstream, [echo]),
    ]
    unlimited = contract.PlanEntry(id=_ids("pln"), tenant_id=tenant_id, name="unlimited")
    generous = contract.PlanEntry(
        id=_ids("pln"), tenant_id=tenant_id, name="generous", **GENEROUS_LIMITS
    )
    plan_of = {OPEN_API: unlimited, LIMITED_API: generous, MCP_API: generous}
    fields: dict[str, Any] = {
        "schema_version": contract.SCHEMA_VERSION,
        "generated_at": time.time(),
        "apis": apis,
        "plans": [unlimited, generous],
        "applications": [
            contract.ApplicationEntry(id=app_id, owner_id=owner_id, tenant_id=tenant_id)
        ],
        "subscriptions": [
            contract.SubscriptionEntry(
                id=_ids("sub"),
                application_id=app_id,
                api_id=entry.id,
                plan_id=plan_of[entry.name].id,
            )
            for entry in apis
        ],
        "keys": [contract.KeyEntry(id=_ids("key"), application_id=app_id, digest=key.digest)],
        "policies": [],
    }
    gateway_secrets = _secrets_entry(hash_secret)
    if gateway_secrets is not None:
        fields["secrets"] = gateway_secrets
    path = data_dir / "bench-snapshot.json"
    path.write_bytes(contract.encode_snapshot(contract.Snapshot(**fields)))
    return BenchSnapshot(path=path, api_key=key.secret, has_secrets=gateway_secrets is not None)
