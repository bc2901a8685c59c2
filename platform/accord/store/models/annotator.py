"""Annotators: the humans behind human judgments, mapped from Argilla users or imports."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ._base import utcnow


class AnnotatorBase(SQLModel):
    username: str = Field(max_length=200, unique=True, index=True)
    source: str = Field(default="", max_length=50, description="argilla | import | api")
    external_id: str | None = Field(default=None, max_length=100, index=True)
    is_gold: bool = Field(default=False, description="Labels from this annotator count as gold.")


class Annotator(AnnotatorBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class AnnotatorPublic(AnnotatorBase):
    id: int
    created_at: datetime
