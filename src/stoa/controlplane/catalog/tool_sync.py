"""Keeping an API's stored tools in step with what its upstream now describes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stoa.controlplane.catalog import repository
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.controlplane.models import Api, Tool
from stoa.kit.ids import new_id


@dataclass(slots=True)
class ToolChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def tool_fields(draft: ToolDraft) -> dict[str, Any]:
    return {
        "description": draft.description,
        "input_schema": draft.input_schema,
        "output_schema": draft.output_schema,
        "annotations": draft.annotations,
        "binding": draft.binding,
    }


async def reconcile_tools(
    session: AsyncSession, api: Api, drafts: Sequence[ToolDraft]
) -> ToolChanges:
    """Make the API's tools match `drafts` by name, keeping surviving tools' enabled flag."""
    changes = ToolChanges()
    existing = {tool.name: tool for tool in await repository.tools_of(session, api.id)}
    wanted = {draft.name for draft in drafts}
    for name, gone in existing.items():
        if name not in wanted:
            await session.delete(gone)
            changes.removed.append(name)
    for draft in drafts:
        fields = tool_fields(draft)
        tool = existing.get(draft.name)
        if tool is None:
            session.add(
                Tool(
                    id=new_id("tool"),
                    api_id=api.id,
                    tenant_id=api.tenant_id,
                    name=draft.name,
                    enabled=True,
                    **fields,
                )
            )
            changes.added.append(draft.name)
        elif any(getattr(tool, key) != value for key, value in fields.items()):
            for key, value in fields.items():
                setattr(tool, key, value)
            changes.updated.append(draft.name)
    await session.flush()
    return changes


def tool_names_for_audit(changes: ToolChanges | None, tools: Sequence[Tool]) -> dict[str, Any]:
    """The tool part of an audit entry: the names now, and what changed."""
    names = sorted(tool.name for tool in tools)
    if changes is None:
        return {"tools": names}
    return {
        "tools": names,
        "tools_added": changes.added,
        "tools_removed": changes.removed,
        "tools_updated": changes.updated,
    }
