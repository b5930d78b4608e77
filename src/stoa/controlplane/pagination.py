"""Keyset pagination by id: ids sort by creation time, so `id > cursor` is the next page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")
ItemT = TypeVar("ItemT")
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = 50
    cursor: str | None = None


class Page(BaseModel, Generic[ItemT]):
    """A page of results; pass `next_cursor` back as `cursor` for the next one."""

    items: list[ItemT]
    next_cursor: str | None


async def fetch_page(
    session: AsyncSession,
    statement: Select[T],
    id_column: InstrumentedAttribute[Any],
    page: PageRequest,
) -> tuple[Sequence[T], str | None]:
    """Rows of `statement` after `page.cursor`, at most `page.limit`, and the next cursor."""
    if page.cursor is not None:
        statement = statement.where(id_column > page.cursor)
    rows = (await session.scalars(statement.order_by(id_column).limit(page.limit + 1))).all()
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        return rows, str(getattr(rows[-1], id_column.key))
    return rows, None
