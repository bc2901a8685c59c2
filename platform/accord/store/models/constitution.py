"""Constitutions as stored: each version once, keyed by the hash of its content."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ._base import hash_field, text_field, utcnow


class ConstitutionBase(SQLModel):
    name: str = Field(max_length=200, index=True)
    version: str = Field(max_length=50)
    description: str = text_field(default="")


class ConstitutionRow(ConstitutionBase, table=True):
    __tablename__ = "constitution"

    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = hash_field(description="sha256 of the canonical constitution document.")
    text: str = text_field(description="The YAML document as loaded.")
    created_at: datetime = Field(default_factory=utcnow)


class ConstitutionPublic(ConstitutionBase):
    id: int
    content_hash: str
    text: str
    created_at: datetime
