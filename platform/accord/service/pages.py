"""Paginated answers: the rows of one page with the total matching the filters.

>>> from accord.service.pages import Page
>>> Page[int](items=[1, 2], total=7, limit=2, offset=0).next_offset
2
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, computed_field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @computed_field
    @property
    def next_offset(self) -> int | None:
        """Offset of the next page, or None on the last one."""
        following = self.offset + len(self.items)
        return following if following < self.total and self.items else None


def page_of(schema, rows, total: int, params) -> dict:
    """A ``Page`` body from table rows, validated into their ``Public`` schema."""
    return {
        "items": [schema.model_validate(row) for row in rows],
        "total": total,
        "limit": params.limit,
        "offset": params.offset,
    }
