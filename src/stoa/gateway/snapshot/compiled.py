"""The snapshot compiled into lookup tables: the hot path only does dict hits.

`compile_snapshot` runs once per snapshot (at start and on every reload), checks that the
snapshot is consistent, and precomputes what each call needs: the API by route, the key
entry by digest, and for each application its grants (one per active subscription: plan,
allowed tools, merged policies).
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from stoa.contract.snapshot import (
    ApiEntry,
    KeyEntry,
    PlanEntry,
    PolicyEntry,
    Snapshot,
    SnapshotError,
    ToolEntry,
    UpstreamAuth,
    content_hash,
)
from stoa.gateway.snapshot.policies import (
    EMPTY_POLICIES,
    CallPolicies,
    merge_policies,
    tool_filters,
)
from stoa.gateway.telemetry import metrics
from stoa.gateway.telemetry.metrics import RequestStats
from stoa.kit.gc_pause import gc_paused


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where an API's upstream lives, parsed once."""

    scheme: str  # "http" or "https"
    host: str
    port: int
    base_path: str  # without a trailing slash; "" for the root
    host_header: str  # what the Host header says
    # `scheme://host:port`, the pool's and breakers' key: read several times per proxied
    # call, so it is a field set once rather than a property formatted on every read.
    origin: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", f"{self.scheme}://{self.host}:{self.port}")


def parse_upstream(url: str) -> UpstreamTarget:
    """`url` split into connection parts, or `SnapshotError`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SnapshotError(f"upstream URL {url!r} is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SnapshotError(f"upstream URL {url!r} must be an http:// or https:// URL")
    default_port = 443 if parts.scheme == "https" else 80
    host = parts.hostname
    host_header = f"[{host}]" if ":" in host else host
    if port is not None and port != default_port:
        host_header += f":{port}"
    return UpstreamTarget(
        scheme=parts.scheme,
        host=host,
        port=port or default_port,
        base_path=parts.path.rstrip("/"),
        host_header=host_header,
    )


@dataclass(frozen=True, slots=True, eq=False)
class CompiledApi:
    """One live API, with its enabled tools by name and the tenant's and API's policies."""

    id: str
    tenant_id: str
    tenant: str  # slug
    name: str
    kind: str  # "rest" | "mcp"
    upstream_url: str
    upstream: UpstreamTarget | None  # None when the URL is empty (not routable)
    upstream_auth: UpstreamAuth | None
    tools: Mapping[str, ToolEntry]
    policies: CallPolicies  # tenant, then API policies: what applies before auth
    entry: ApiEntry
    # Where /proxy answers for this API are counted; the same object in every snapshot.
    proxy_stats: RequestStats


@dataclass(frozen=True, slots=True, eq=False)
class Grant:
    """What one active subscription lets a caller do, precomputed."""

    subscription_id: str
    application_id: str
    api: CompiledApi
    plan: PlanEntry
    tools: tuple[ToolEntry, ...]  # allowed after plan allow-list and tool_filter, by name
    policies: CallPolicies  # tenant, API and plan policies merged
    tool_names: frozenset[str] = field(default_factory=frozenset)

    def allows_tool(self, name: str) -> bool:
        return name in self.tool_names


@dataclass(frozen=True, slots=True, eq=False)
class CompiledSnapshot:
    hash: str
    generated_at: float
    schema_version: int
    api_by_route: Mapping[tuple[str, str], CompiledApi]
    api_by_raw_route: Mapping[tuple[bytes, bytes], CompiledApi]  # the same, UTF-8 encoded
    api_by_id: Mapping[str, CompiledApi]
    key_by_digest: Mapping[str, KeyEntry]
    grants_by_application: Mapping[str, Mapping[str, Grant]]  # app id -> api id -> Grant
    applications_by_owner: Mapping[str, tuple[str, ...]]  # owner (user) id -> app ids
    key_hash_secret: bytes | None
    session_secret: bytes | None
    snapshot: Snapshot
    # Presented key -> (key entry, caller), for keys found in this snapshot: the HMAC
    # costs more than the rest of a key check. Bounded; gone with the snapshot, so a
    # revoked key stops working at the next reload. Expiry is checked on every call.
    digest_cache: dict[str, tuple[KeyEntry, Any]] = field(default_factory=dict)

    def api_at(self, tenant: bytes, name: bytes) -> CompiledApi | None:
        """The API routed at `/{tenant}/{name}` as they appear in a request path (raw
        bytes, possibly percent-encoded)."""
        api = self.api_by_raw_route.get((tenant, name))
        if api is None and (b"%" in tenant or b"%" in name):
            api = self.api_by_route.get(
                (
                    unquote_to_bytes(tenant).decode("utf-8", "replace"),
                    unquote_to_bytes(name).decode("utf-8", "replace"),
                )
            )
        return api

    def grants_for_owner(self, owner_id: str) -> Mapping[str, Grant]:
        """The grants of every application `owner_id` owns, one per API.

        If two of them subscribe to the same API, the application with the smallest id
        wins, so the answer does not depend on snapshot order.
        """
        merged: dict[str, Grant] = {}
        for app_id in self.applications_by_owner.get(owner_id, ()):
            for api_id, grant in self.grants_by_application.get(app_id, {}).items():
                merged.setdefault(api_id, grant)
        return merged


def _secret(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise SnapshotError(f"snapshot {what} is not base64") from exc


def _policies_by_target(policies: list[PolicyEntry]) -> dict[tuple[str, str], list[PolicyEntry]]:
    by_target: dict[tuple[str, str], list[PolicyEntry]] = defaultdict(list)
    for policy in sorted(policies, key=lambda p: p.id):
        by_target[(policy.target_type, policy.target_id)].append(policy)
    return by_target


def compile_snapshot(snapshot: Snapshot, digest: str | None = None) -> CompiledSnapshot:
    """The lookup tables for `snapshot`; `SnapshotError` if it is inconsistent
    (a subscription naming an unknown plan, two APIs on one route, a bad upstream URL).

    `digest` is the snapshot's content hash when the caller has already checked it (a
    verified disk copy): hashing re-encodes the whole snapshot, a fifth of the compile's
    time on a large one. Without it the hash is computed."""
    with gc_paused():
        return _compile(snapshot, digest)


def _compile(snapshot: Snapshot, digest: str | None) -> CompiledSnapshot:
    policies = _policies_by_target(snapshot.policies)
    apis: dict[str, CompiledApi] = {}
    routes: dict[tuple[str, str], CompiledApi] = {}
    for entry in snapshot.apis:
        api_policies = merge_policies(
            merge_policies(EMPTY_POLICIES, policies.get(("tenant", entry.tenant_id), [])),
            policies.get(("api", entry.id), []),
        )
        api = CompiledApi(
            id=entry.id,
            tenant_id=entry.tenant_id,
            tenant=entry.tenant,
            name=entry.name,
            kind=entry.kind,
            upstream_url=entry.upstream_url,
            upstream=parse_upstream(entry.upstream_url) if entry.upstream_url else None,
            upstream_auth=entry.upstream_auth,
            tools=MappingProxyType({tool.name: tool for tool in entry.tools}),
            policies=api_policies,
            entry=entry,
            proxy_stats=metrics.stats_for("proxy", entry.tenant, entry.name),
        )
        route = (entry.tenant, entry.name)
        if route in routes:
            raise SnapshotError(f"two APIs are routed at /{entry.tenant}/{entry.name}")
        routes[route] = api
        apis[entry.id] = api
    plans = {plan.id: plan for plan in snapshot.plans}
    applications = {application.id: application for application in snapshot.applications}

    grants: dict[str, dict[str, Grant]] = defaultdict(dict)
    for subscription in sorted(snapshot.subscriptions, key=lambda s: s.id):
        subscribed = apis.get(subscription.api_id)
        plan = plans.get(subscription.plan_id)
        if subscribed is None or plan is None or subscription.application_id not in applications:
            raise SnapshotError(
                f"subscription {subscription.id} names an API, plan or application "
                "that the snapshot does not hold"
            )
        api = subscribed
        plan_policies = policies.get(("plan", plan.id), [])
        filters = tool_filters(
            [
                *policies.get(("tenant", api.tenant_id), []),
                *policies.get(("api", api.id), []),
                *plan_policies,
            ]
        )
        allowlist = None if plan.tool_allowlist is None else frozenset(plan.tool_allowlist)
        tools = tuple(
            tool
            for name, tool in sorted(api.tools.items())
            if (allowlist is None or name in allowlist) and all(f.permits(name) for f in filters)
        )
        grants[subscription.application_id].setdefault(
            api.id,
            Grant(
                subscription_id=subscription.id,
                application_id=subscription.application_id,
                api=api,
                plan=plan,
                tools=tools,
                policies=merge_policies(api.policies, plan_policies),
                tool_names=frozenset(tool.name for tool in tools),
            ),
        )

    owners: dict[str, list[str]] = defaultdict(list)
    for application in sorted(snapshot.applications, key=lambda a: a.id):
        owners[application.owner_id].append(application.id)

    keys: dict[str, KeyEntry] = {}
    for key in snapshot.keys:
        if key.application_id not in applications:
            raise SnapshotError(f"key {key.id} belongs to an application the snapshot lacks")
        keys[key.digest] = key

    secrets = snapshot.secrets
    return CompiledSnapshot(
        hash=digest if digest is not None else content_hash(snapshot),
        generated_at=snapshot.generated_at,
        schema_version=snapshot.schema_version,
        api_by_route=MappingProxyType(routes),
        api_by_raw_route=MappingProxyType(
            {(tenant.encode(), name.encode()): api for (tenant, name), api in routes.items()}
        ),
        api_by_id=MappingProxyType(apis),
        key_by_digest=MappingProxyType(keys),
        grants_by_application=MappingProxyType(
            {app_id: MappingProxyType(by_api) for app_id, by_api in grants.items()}
        ),
        applications_by_owner=MappingProxyType(
            {owner: tuple(ids) for owner, ids in owners.items()}
        ),
        key_hash_secret=_secret(secrets.key_hash_secret, "key hash secret") if secrets else None,
        session_secret=_secret(secrets.session_secret, "session secret") if secrets else None,
        snapshot=snapshot,
    )
