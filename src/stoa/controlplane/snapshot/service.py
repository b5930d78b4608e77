"""Turning the database into a `Snapshot`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stoa.contract.snapshot import (
    SCHEMA_VERSION,
    ApiEntry,
    ApplicationEntry,
    GatewaySecrets,
    KeyEntry,
    PlanEntry,
    PolicyEntry,
    Snapshot,
    SubscriptionEntry,
    ToolEntry,
    UpstreamAuth,
    content_hash,
    encode_snapshot,
)
from stoa.controlplane.gateway_fleet import service as fleet
from stoa.controlplane.gateway_fleet.service import SyncCaller
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.snapshot import repository
from stoa.controlplane.snapshot.watch import Published, SnapshotWatch
from stoa.kit.crypto import SecretBox
from stoa.kit.gc_pause import gc_paused

# The database column is a plain string; the contract wants the literal type.
_POLICY_TARGETS: dict[str, Literal["tenant", "api", "plan"]] = {
    "tenant": "tenant",
    "api": "api",
    "plan": "plan",
}


def _upstream_auth(api: Row[*tuple[Any, ...]], secret_box: SecretBox) -> UpstreamAuth | None:
    if not (api.upstream_auth_location and api.upstream_auth_name and api.upstream_auth_secret):
        return None
    value = secret_box.decrypt(api.upstream_auth_secret, context=api.id)
    location: Literal["header", "query"] = (
        "query" if api.upstream_auth_location == "query" else "header"
    )
    return UpstreamAuth(location=location, name=api.upstream_auth_name, value=value)


def _gateway_secrets(key_hash_secret: bytes) -> GatewaySecrets:
    # The session secret is derived, not stored: one platform secret fewer to manage, and
    # it is rotated together with the key hash secret.
    session = hmac.new(key_hash_secret, b"stoa gateway session signing", hashlib.sha256)
    return GatewaySecrets(
        key_hash_secret=base64.b64encode(key_hash_secret).decode(),
        session_secret=base64.b64encode(session.digest()).decode(),
    )


async def build_snapshot(
    session: AsyncSession, secret_box: SecretBox, key_hash_secret: bytes | None = None
) -> Snapshot:
    """What gateways should serve right now.

    With `key_hash_secret` the snapshot carries the gateway secrets (API-key HMAC key and
    MCP session-signing key); gateways need them to check keys and sign sessions.

    Suspended and archived tenants contribute nothing: neither their APIs nor their
    consumers' applications, so their keys stop working at the next sync. Subscriptions
    are kept only when both their application and their API are live.
    """
    now = utcnow()
    tenants = await repository.active_tenants(session)
    tenant_ids = list(tenants)
    apis = await repository.live_apis(session, tenant_ids)
    tools_by_api: dict[str, list[ToolEntry]] = defaultdict(list)
    for (
        api_id,
        name,
        description,
        input_schema,
        output_schema,
        hints,
        binding,
    ) in await repository.enabled_tools(session, tenant_ids):
        tools_by_api[api_id].append(
            ToolEntry(
                name=name,
                description=description,
                input_schema=input_schema,
                output_schema=output_schema,
                annotations=hints,
                binding=binding,
            )
        )
    api_entries = [
        ApiEntry(
            id=api.id,
            tenant_id=api.tenant_id,
            tenant=tenants[api.tenant_id],
            name=api.name,
            kind="mcp" if api.kind == "mcp" else "rest",
            lifecycle="deprecated" if api.lifecycle == "deprecated" else "published",
            visibility="public" if api.visibility == "public" else "tenant",
            upstream_url=(api.mcp_url if api.kind == "mcp" else api.backend_url) or "",
            tools=tools_by_api[api.id],
            upstream_auth=_upstream_auth(api, secret_box),
        )
        for api in apis
    ]
    applications = await repository.live_applications(session, tenant_ids)
    application_ids = {application_id for application_id, _, _ in applications}
    api_ids = {api.id for api in apis}
    subscriptions = [
        SubscriptionEntry(id=id_, application_id=app_id, api_id=api_id, plan_id=plan_id)
        for id_, app_id, api_id, plan_id in await repository.active_subscriptions(session)
        if app_id in application_ids and api_id in api_ids
    ]
    keys = [
        KeyEntry(
            id=id_,
            application_id=app_id,
            digest=digest,
            expires_at=expires_at.timestamp() if expires_at else None,
        )
        for id_, app_id, digest, expires_at in await repository.usable_keys(session, now)
        if app_id in application_ids
    ]
    return Snapshot(
        schema_version=SCHEMA_VERSION,
        generated_at=now.timestamp(),
        apis=api_entries,
        plans=[
            PlanEntry(
                id=p.id,
                tenant_id=p.tenant_id,
                name=p.name,
                rate_per_second=p.rate_per_second,
                burst=p.burst,
                per_minute=p.per_minute,
                per_day=p.per_day,
                per_month=p.per_month,
                tool_allowlist=p.tool_allowlist,
            )
            for p in await repository.plans(session, tenant_ids)
        ],
        applications=[
            ApplicationEntry(id=id_, owner_id=owner_id, tenant_id=tenant_id)
            for id_, owner_id, tenant_id in applications
        ],
        subscriptions=subscriptions,
        keys=keys,
        policies=[
            PolicyEntry(
                id=p.id,
                tenant_id=p.tenant_id,
                kind=p.kind,
                target_type=_POLICY_TARGETS[p.target_type],
                target_id=p.target_id,
                config=p.config,
            )
            for p in await repository.enabled_policies(session, tenant_ids)
        ],
        secrets=_gateway_secrets(key_hash_secret) if key_hash_secret is not None else None,
    )


async def publish(
    session: AsyncSession, secret_box: SecretBox, key_hash_secret: bytes
) -> Published:
    """Build the snapshot gateways get (with the gateway secrets), encoded and hashed."""
    with gc_paused():
        snapshot = await build_snapshot(session, secret_box, key_hash_secret)
        return Published(hash=content_hash(snapshot), body=encode_snapshot(snapshot))


async def config_revision(session: AsyncSession) -> tuple[int, int]:
    """What `SnapshotWatch` compares to notice a change (see `repository.config_revision`)."""
    return await repository.config_revision(session)


async def snapshot_for(
    session: AsyncSession, caller: SyncCaller, watch: SnapshotWatch, *, wanted: str | None = None
) -> Published:
    """The latest snapshot, for a gateway token or a platform admin (the dependency that
    built `caller` checked which). Contains upstream credentials. Notes the gateway's
    visit for `/v1/gateways`.

    Built afresh, unless the caller wants the snapshot the long poll announced (`wanted`)
    and that is the one built last: then it is served as built if no audited change came
    since, so that a change costs one build for the whole fleet rather than one per
    gateway."""
    await fleet.record_sync(session, caller)
    if wanted is not None and wanted == watch.cached_hash:
        return await watch.latest(session, recheck=True)
    return await watch.latest(session, fresh=True)


async def next_hash(
    sessions: async_sessionmaker[AsyncSession],
    caller: SyncCaller,
    watch: SnapshotWatch,
    *,
    after: str | None,
    wait: float,
    gone: Callable[[], Awaitable[bool]] | None = None,
) -> str:
    """The latest snapshot hash as soon as it differs from `after`, or after `wait`
    seconds. The visit is noted in a transaction of its own that ends before the wait, so
    a waiting gateway holds no database connection."""
    async with sessions() as session, session.begin():
        await fleet.record_sync(session, caller)
        if after is None:
            return (await watch.latest(session)).hash
    return await watch.next_hash(sessions, after, wait, gone)
