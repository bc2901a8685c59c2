"""Prompts: the text a model answers, keyed by its content hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ._base import hash_field, json_field, text_field, utcnow


class PromptBase(SQLModel):
    text: str = text_field(description="The prompt as plain text (conversations are rendered).")
    source: str = Field(default="", max_length=200, index=True, description="Where it came from.")


class PromptCreate(SQLModel):
    """``POST /prompts``: a prompt to store (the existing row answers the same content)."""

    text: str = Field(default="", description="Plain text; may be empty when messages are given.")
    source: str = Field(default="api", max_length=200)
    messages: list[dict[str, Any]] | None = Field(default=None, max_length=200)
    meta: dict[str, Any] = Field(default_factory=dict)


class Prompt(PromptBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = hash_field(description="sha256 of the exact prompt (messages if any).")
    split_group: str = Field(
        max_length=64, index=True, description="sha256 of the normalized text: leak-free splits."
    )
    messages: list[dict[str, Any]] | None = json_field(default_factory=lambda: None, nullable=True)
    meta: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow)


class PromptPublic(PromptBase):
    id: int
    content_hash: str
    split_group: str
    messages: list[dict[str, Any]] | None = None
    meta: dict[str, Any] = {}
    created_at: datetime
