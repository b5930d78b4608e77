"""Writing audit entries (called by every service, inside the mutation's transaction),
and reading and verifying them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stoa.controlplane.audit import repository
from stoa.controlplane.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    PLATFORM_CHAIN,
    canonical_json,
    chain_for,
    entry_hash,
)
from stoa.controlplane.audit.schemas import EXPORT_COLUMNS, AuditFilters, ExportFormat
from stoa.controlplane.authz import Action, authorize, require_platform_admin
from stoa.controlplane.models import AuditEntry
from stoa.controlplane.models.base import Base, utcnow
from stoa.controlplane.pagination import PageRequest
from stoa.controlplane.principal import Principal
from stoa.controlplane.tenant import repository as tenant_repository
from stoa.kit.errors import InvalidInput, NotFound
from stoa.kit.ids import new_id

# Columns that never appear in an audit entry, whatever the table.
_SECRET_COLUMNS = frozenset(
    {"password_hash", "client_secret_hash", "upstream_auth_secret", "digest"}
)
# Columns too large to copy into every entry; recorded as a digest instead.
_DIGESTED_COLUMNS = frozenset({"openapi"})


def snapshot_of(record: Base) -> dict[str, Any]:
    """A JSON-ready view of a row for `before`/`after`, without secrets."""
    view: dict[str, Any] = {}
    for column in inspect(record).mapper.column_attrs:
        name = column.key
        if name in _SECRET_COLUMNS:
            continue
        value = getattr(record, name)
        if name in _DIGESTED_COLUMNS and value is not None:
            value = {"sha256": hashlib.sha256(repr(value).encode()).hexdigest()}
        elif isinstance(value, datetime):
            value = value.isoformat()
        view[name] = value
    return view


async def record(
    session: AsyncSession,
    actor: Principal,
    *,
    action: str,
    target_type: str,
    target_id: str,
    tenant_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append an entry to the tenant's chain, in the caller's transaction.

    `action` reads `<target>.<verb>`, e.g. `api.publish`. The chain head stays locked until
    the transaction ends, so appends to one chain are serialized.
    """
    chain = chain_for(tenant_id)
    head = await repository.lock_chain_head(session, chain)
    entry = AuditEntry(
        id=new_id("aud"),
        chain=chain,
        seq=head.seq + 1,
        tenant_id=tenant_id,
        at=utcnow(),
        actor_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        source_ip=actor.source_ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(head.last_hash, hashed_fields(entry))
    head.seq, head.last_hash = entry.seq, entry.hash
    session.add(entry)
    await session.flush()
    return entry


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


@dataclass(frozen=True, slots=True)
class ChainReport:
    chain: str
    entries: int
    intact: bool
    first_broken_seq: int | None = None
    first_broken_id: str | None = None
    problem: str | None = None


async def verify_chain(
    session: AsyncSession, chain: str, head_seq: int, head_hash: str
) -> ChainReport:
    """Recompute the chain and report the first entry whose link or hash does not hold."""
    expected_prev = "0" * 64
    expected_seq = 1
    count = 0
    async for entry in repository.chain_entries(session, chain):
        count += 1
        problem = None
        if entry.seq != expected_seq:
            problem = f"entry {expected_seq} is missing (next is {entry.seq})"
        elif entry.prev_hash != expected_prev:
            problem = "prev_hash does not match the previous entry's hash"
        elif entry_hash(entry.prev_hash, hashed_fields(entry)) != entry.hash:
            problem = "the entry's content does not match its hash (altered)"
        if problem is not None:
            return ChainReport(chain, count, False, entry.seq, entry.id, problem)
        expected_prev, expected_seq = entry.hash, entry.seq + 1
    if count != head_seq or expected_prev != head_hash:
        return ChainReport(chain, count, False, count + 1, None, "the newest entries were removed")
    return ChainReport(chain, count, True)


# --- reading, exporting and verifying (the audit API) --------------------------------------
#
# Visibility: cpi-admin reads every chain (the platform's and every tenant's) and may narrow
# to one tenant; a tenant-admin reads their own tenant's chain only (AUDIT_READ); anyone else
# is refused in their tenant, and another tenant is 404.

EXPORT_BATCH = 500


async def _visible_tenant_ids(
    session: AsyncSession, actor: Principal, tenant_slug: str | None
) -> list[str | None] | None:
    """The tenant ids whose entries `actor` may read (None: all, platform included)."""
    if actor.is_platform_admin:
        if tenant_slug is None:
            return None
        tenant = await tenant_repository.by_slug(session, tenant_slug)
        if tenant is None:
            raise NotFound(f"tenant {tenant_slug} does not exist")
        return [tenant.id]
    if actor.tenant_id is None:
        require_platform_admin(actor, doing="reading the platform audit log")
    assert actor.tenant_id is not None
    if tenant_slug is not None and tenant_slug != actor.tenant_slug:
        raise NotFound(f"tenant {tenant_slug} does not exist")
    authorize(actor, Action.AUDIT_READ, actor.tenant_id, what=f"tenant {actor.tenant_slug}")
    return [actor.tenant_id]


def _as_utc(moment: datetime | None) -> datetime | None:
    """Times without a zone are read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _selection(tenant_ids: list[str | None] | None, filters: AuditFilters) -> Select[AuditEntry]:
    since, until = _as_utc(filters.since), _as_utc(filters.until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("`since` must be before `until`")
    return repository.filtered_entries(
        tenant_ids=tenant_ids,
        actor_id=filters.actor_id,
        target_type=filters.target_type,
        target_id=filters.target_id,
        action=filters.action,
        since=since,
        until=until,
    )


async def list_entries(
    session: AsyncSession, actor: Principal, page: PageRequest, filters: AuditFilters
) -> tuple[list[AuditEntry], str | None]:
    """Entries `actor` may read that match `filters`, NEWEST FIRST, keyset-paginated on
    the id descending: `next_cursor` leads to older entries."""
    tenant_ids = await _visible_tenant_ids(session, actor, filters.tenant)
    return await repository.newest_first(
        session, _selection(tenant_ids, filters), limit=page.limit, before_id=page.cursor
    )


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    media_type: str
    chunks: AsyncIterator[str]


def _export_row(entry: AuditEntry) -> dict[str, Any]:
    row = {name: getattr(entry, name) for name in EXPORT_COLUMNS}
    row["at"] = entry.at.isoformat()
    return row


def _csv_text(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


# Spreadsheets run a cell that starts with one of these as a formula ("CSV injection"),
# and names and emails in the log come from users.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """`value` as a CSV cell that a spreadsheet shows as text: dicts as canonical JSON,
    None as empty, and text that a spreadsheet would evaluate prefixed with `'`."""
    if isinstance(value, dict):
        return canonical_json(value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def _export_chunks(
    sessions: async_sessionmaker[AsyncSession],
    selection: Select[AuditEntry],
    export_format: ExportFormat,
) -> AsyncIterator[str]:
    # The request's session is closed (and its transaction committed) before the body
    # streams, so this reads with sessions of its own: one short transaction per batch, so
    # a long export never holds a transaction (on SQLite: the write lock) for its duration.
    if export_format == "csv":
        yield _csv_text([list(EXPORT_COLUMNS)])
    after_id: str | None = None
    while True:
        async with sessions() as session:
            batch = await repository.oldest_first_batch(
                session, selection, after_id=after_id, size=EXPORT_BATCH
            )
        rows = [_export_row(entry) for entry in batch]
        if export_format == "csv":
            yield _csv_text([[csv_cell(row[name]) for name in EXPORT_COLUMNS] for row in rows])
        else:
            yield "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        if len(batch) < EXPORT_BATCH:
            return
        after_id = batch[-1].id


async def export_entries(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    actor: Principal,
    filters: AuditFilters,
    export_format: ExportFormat,
) -> Export:
    """Authorize and validate now (so a refusal is a normal error response), then return a
    stream of every matching entry, OLDEST FIRST, as JSON Lines or CSV (columns
    `EXPORT_COLUMNS`; `before`/`after` as JSON). The stream reads through `sessions`, not
    `session`, which is gone by the time the body is sent."""
    tenant_ids = await _visible_tenant_ids(session, actor, filters.tenant)
    selection = _selection(tenant_ids, filters)
    extension, media_type = {
        "jsonl": ("jsonl", "application/x-ndjson"),
        "csv": ("csv", "text/csv; charset=utf-8"),
    }[export_format]
    return Export(
        filename=f"audit-{utcnow().date().isoformat()}.{extension}",
        media_type=media_type,
        chunks=_export_chunks(sessions, selection, export_format),
    )


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """A `ChainReport` with the slug of the chain's tenant (None for the platform chain
    and for tenants since deleted)."""

    chain: str
    tenant: str | None
    entries: int
    intact: bool
    first_broken_seq: int | None
    first_broken_id: str | None
    problem: str | None


async def verify_visible_chains(
    session: AsyncSession, actor: Principal, tenant_slug: str | None
) -> list[ChainStatus]:
    """Recompute every chain `actor` may read (cpi-admin: all, or `tenant_slug`'s;
    tenant-admin: their tenant's) against its head, in chain order. A chain with no entries
    yet is reported intact with 0 entries."""
    tenant_ids = await _visible_tenant_ids(session, actor, tenant_slug)
    wanted = None if tenant_ids is None else [chain_for(t) for t in tenant_ids]
    heads = {head.chain: head for head in await repository.chain_heads(session, wanted)}
    chains = sorted(heads) if wanted is None else wanted
    slugs = await repository.tenant_slugs(session, [c for c in chains if c != PLATFORM_CHAIN])
    statuses = []
    for chain in chains:
        head = heads.get(chain)
        report = await verify_chain(
            session,
            chain,
            head.seq if head is not None else 0,
            head.last_hash if head is not None else GENESIS_HASH,
        )
        statuses.append(
            ChainStatus(
                chain=chain,
                tenant=slugs.get(chain),
                entries=report.entries,
                intact=report.intact,
                first_broken_seq=report.first_broken_seq,
                first_broken_id=report.first_broken_id,
                problem=report.problem,
            )
        )
    return statuses
