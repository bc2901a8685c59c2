"""Shared column helpers for the store's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field

MAX_ID = 2**31 - 1  # row ids are 32-bit integers on PostgreSQL


def utcnow() -> datetime:
    """Timezone-aware UTC (the column type stores UTC on every database)."""
    return datetime.now(UTC)


def json_field(default_factory=dict, nullable: bool = False, **kw: Any) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=nullable), **kw)


def text_field(default: Any = ..., nullable: bool = False, **kw: Any) -> Any:
    return Field(default=default, sa_column=Column(Text, nullable=nullable), **kw)


def hash_field(**kw: Any) -> Any:
    """A SHA-256 hex natural key: unique and indexed."""
    return Field(max_length=64, unique=True, index=True, **kw)
