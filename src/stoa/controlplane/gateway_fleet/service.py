"""Rules for gateway tokens and the fleet.

Platform admins create, list and revoke gateway tokens; the secret exists only in the
response that creates it. A gateway presents its token on every sync request with its
identity (`stoa.contract.sync` headers); each request records the gateway, the hash it
serves and when it was seen, which is what `/v1/gateways` shows. A revoked token is
refused on the next request, so its gateways stop receiving config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stoa.contract import sync
from stoa.controlplane.audit import service as audit
from stoa.controlplane.authz import require_platform_admin
from stoa.controlplane.gateway_fleet import repository
from stoa.controlplane.gateway_fleet.schemas import GatewayTokenCreate, RefusalReport
from stoa.controlplane.models import Gateway, GatewayToken
from stoa.controlplane.models.base import utcnow
from stoa.controlplane.pagination import PageRequest, fetch_page
from stoa.controlplane.principal import Principal
from stoa.controlplane.snapshot.watch import SnapshotWatch
from stoa.kit.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from stoa.kit.gateway_token import gateway_token_digest, generate_gateway_token
from stoa.kit.ids import new_id

# A syncing gateway asks again at least every `sync.MAX_WAIT_SECONDS`; one not seen for
# twice that (and some slack for a slow network) has lost the control plane.
UNREACHABLE_AFTER_SECONDS = 2 * sync.MAX_WAIT_SECONDS + 10

_INSTANCE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class SyncReport:
    """Who the gateway says it is, and the snapshot hash it serves (None: nothing yet)."""

    instance_id: str
    name: str
    version: str
    address: str
    served_hash: str | None


@dataclass(frozen=True, slots=True)
class SyncCaller:
    """A caller allowed to read gateway config: a gateway token, or a platform admin.

    `principal` is what audit entries name: for a gateway token, `gateway-token:<id>`
    without roles. `token_id` is None for a platform admin's access token. `report` is
    None when the request carries no `X-Stoa-Gateway-Id` (a person with curl)."""

    principal: Principal
    token_id: str | None
    report: SyncReport | None


def _header_text(headers: Mapping[str, str], name: str, limit: int, default: str) -> str:
    value = headers.get(name, "").strip() or default
    if len(value) > limit or not value.isprintable():
        message = f"header {name} must be printable text of at most {limit} characters"
        raise InvalidInput(message, errors=[{"field": name, "message": message}])
    return value


def sync_report_from(headers: Mapping[str, str], client_host: str | None) -> SyncReport | None:
    """The gateway's identity from the sync headers; `InvalidInput` if one is malformed."""
    instance = headers.get(sync.INSTANCE_HEADER)
    if instance is None:
        return None
    if not _INSTANCE.match(instance):
        message = f"header {sync.INSTANCE_HEADER} must be 1 to 64 of A-Z a-z 0-9 _ . : -"
        raise InvalidInput(message, errors=[{"field": sync.INSTANCE_HEADER, "message": message}])
    served = headers.get(sync.SERVED_HEADER) or None
    if served is not None and not _HASH.match(served):
        message = f"header {sync.SERVED_HEADER} must be a snapshot hash (64 hex digits)"
        raise InvalidInput(message, errors=[{"field": sync.SERVED_HEADER, "message": message}])
    return SyncReport(
        instance_id=instance,
        name=_header_text(headers, sync.NAME_HEADER, 100, instance),
        version=_header_text(headers, sync.VERSION_HEADER, 64, "unknown"),
        address=_header_text(headers, sync.ADDRESS_HEADER, 255, client_host or "unknown"),
        served_hash=served,
    )


async def authenticate_token(
    session: AsyncSession, hash_secret: bytes, presented: str, *, source_ip: str | None
) -> Principal:
    """The principal of an active gateway token; `Unauthenticated` otherwise. The same
    answer for unknown and revoked tokens, so a probe learns nothing."""
    token = await repository.token_by_digest(session, gateway_token_digest(hash_secret, presented))
    if token is None or token.status != "active":
        raise Unauthenticated("the gateway token is unknown or revoked")
    return Principal(
        user_id=f"gateway-token:{token.id}",
        label=f"gateway token {token.name}",
        tenant_id=None,
        tenant_slug=None,
        roles=frozenset(),
        source_ip=source_ip,
        user_agent="stoa-gateway",
    )


# --- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    name: str
    prefix: str
    status: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    secret: str


async def create_token(
    session: AsyncSession, actor: Principal, hash_secret: bytes, data: GatewayTokenCreate
) -> IssuedToken:
    """A new gateway token; its secret is in the result and nowhere else."""
    require_platform_admin(actor, doing="creating gateway tokens")
    generated = generate_gateway_token(hash_secret)
    token = GatewayToken(
        id=new_id("gtk"),
        name=data.name,
        prefix=generated.prefix,
        digest=generated.digest,
        status="active",
        created_by=actor.label,
    )
    session.add(token)
    await session.flush()
    await audit.record(
        session,
        actor,
        action="gateway_token.create",
        target_type="gateway_token",
        target_id=token.id,
        tenant_id=None,
        after=audit.snapshot_of(token),
    )
    return IssuedToken(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        status=token.status,
        created_by=token.created_by,
        created_at=token.created_at,
        revoked_at=None,
        secret=generated.secret,
    )


async def list_tokens(
    session: AsyncSession, actor: Principal, page: PageRequest, *, state: str | None
) -> tuple[Sequence[GatewayToken], str | None]:
    require_platform_admin(actor, doing="listing gateway tokens")
    return await fetch_page(session, repository.token_listing(state=state), GatewayToken.id, page)


async def revoke_token(session: AsyncSession, actor: Principal, token_id: str) -> GatewayToken:
    """Refuse the token from now on: its gateways keep serving what they have, but get no
    more config. Revoking twice is a conflict."""
    require_platform_admin(actor, doing="revoking gateway tokens")
    token = await repository.token_by_id(session, token_id)
    if token is None:
        raise NotFound(f"gateway token {token_id} does not exist")
    if token.status == "revoked":
        assert token.revoked_at is not None
        raise Conflict(
            f"gateway token {token.id} was already revoked at {token.revoked_at.isoformat()}"
        )
    before = audit.snapshot_of(token)
    token.status, token.revoked_at = "revoked", utcnow()
    await session.flush()
    await audit.record(
        session,
        actor,
        action="gateway_token.revoke",
        target_type="gateway_token",
        target_id=token.id,
        tenant_id=None,
        before=before,
        after=audit.snapshot_of(token),
    )
    return token


# --- gateways -------------------------------------------------------------------------------


async def _gateway_row(session: AsyncSession, token_id: str, report: SyncReport) -> Gateway:
    """The gateway's row, created on first sight. Two first requests of one gateway at
    once would collide on the unique key: the loser reads the winner's row."""
    found = await repository.gateway_instance(session, token_id, report.instance_id)
    if found is not None:
        return found
    row = Gateway(
        id=new_id("gw"),
        token_id=token_id,
        instance_id=report.instance_id,
        name=report.name,
        version=report.version,
        address=report.address,
        served_hash=report.served_hash,
        last_seen_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = await repository.gateway_instance(session, token_id, report.instance_id)
        if found is None:
            raise
        return found
    return row


async def record_sync(session: AsyncSession, caller: SyncCaller) -> None:
    """Note that the caller's gateway was seen now, serving `report.served_hash`. Nothing
    to note for a platform admin or a request without the gateway headers."""
    if caller.token_id is None or caller.report is None:
        return
    report = caller.report
    row = await _gateway_row(session, caller.token_id, report)
    row.name, row.version, row.address = report.name, report.version, report.address
    row.served_hash = report.served_hash
    row.last_seen_at = utcnow()
    await session.flush()


async def record_refusal(session: AsyncSession, caller: SyncCaller, data: RefusalReport) -> None:
    """Keep the newest snapshot the gateway could not compile, for `/v1/gateways`."""
    if caller.token_id is None or caller.report is None:
        raise InvalidInput(f"a refusal needs a gateway token and the {sync.INSTANCE_HEADER} header")
    row = await _gateway_row(session, caller.token_id, caller.report)
    row.served_hash = caller.report.served_hash
    row.last_seen_at = utcnow()
    row.refused_hash, row.refused_reason, row.refused_at = data.hash, data.reason, utcnow()
    await session.flush()


@dataclass(frozen=True, slots=True)
class RefusalView:
    hash: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class GatewayView:
    id: str
    name: str
    version: str
    address: str
    token_id: str
    served_hash: str | None
    latest_hash: str
    last_seen_at: datetime
    status: str
    refused: RefusalView | None


def gateway_status(row: Gateway, latest_hash: str, now: datetime) -> str:
    if now - row.last_seen_at > timedelta(seconds=UNREACHABLE_AFTER_SECONDS):
        return "unreachable"
    return "in_sync" if row.served_hash == latest_hash else "behind"


async def list_gateways(
    session: AsyncSession, actor: Principal, page: PageRequest, watch: SnapshotWatch
) -> tuple[list[GatewayView], str | None]:
    """Every gateway seen, with the hash it serves against the latest."""
    require_platform_admin(actor, doing="listing gateways")
    rows, cursor = await fetch_page(session, repository.gateway_listing(), Gateway.id, page)
    latest = (await watch.latest(session)).hash
    now = utcnow()
    views = [
        GatewayView(
            id=row.id,
            name=row.name,
            version=row.version,
            address=row.address,
            token_id=row.token_id,
            served_hash=row.served_hash,
            latest_hash=latest,
            last_seen_at=row.last_seen_at,
            status=gateway_status(row, latest, now),
            refused=RefusalView(row.refused_hash, row.refused_reason or "", row.refused_at)
            if row.refused_hash is not None and row.refused_at is not None
            else None,
        )
        for row in rows
    ]
    return views, cursor
