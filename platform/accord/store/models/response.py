"""Responses with lineage: which model made them, from which parent, in which role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ._base import hash_field, json_field, text_field, utcnow

ROLES = ("initial", "critique", "revision")


class ResponseBase(SQLModel):
    text: str = text_field()
    role: str = Field(default="initial", max_length=16, index=True, description="|".join(ROLES))
    model_id: str = Field(default="", max_length=300, index=True, description="Generator model.")
    backend: str = Field(
        default="", max_length=32, description="transformers | openai | vllm | import"
    )


class Response(ResponseBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = hash_field(description="sha256(prompt, role, parent, model, text).")
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="response.id", index=True)
    sampling_params: dict[str, Any] = json_field()
    constitution_id: int | None = Field(default=None, foreign_key="constitution.id")
    principle: str = Field(default="", max_length=100)
    round: int = Field(default=0, description="Critique-revise round (0 for initial responses).")
    job_id: int | None = Field(default=None, foreign_key="job.id", index=True)
    raw_output: str | None = text_field(default=None, nullable=True)
    finish_reason: str | None = Field(default=None, max_length=32)
    usage: dict[str, Any] = json_field()
    cache_key: str | None = Field(default=None, max_length=64, index=True)
    messages: list[dict[str, Any]] | None = json_field(default_factory=lambda: None, nullable=True)
    created_at: datetime = Field(default_factory=utcnow)


class ResponsePublic(ResponseBase):
    id: int
    content_hash: str
    prompt_id: int
    parent_id: int | None
    sampling_params: dict[str, Any]
    constitution_id: int | None
    principle: str
    round: int
    job_id: int | None
    finish_reason: str | None
    created_at: datetime
