"""Pairs of responses to one prompt. Sides are canonical: (x, y) and (y, x) are one pair,
with ``response_a`` the response whose content hash sorts first; judgments say which
side won in these canonical terms and record separately the order the judge saw."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ._base import hash_field, utcnow
from .prompt import PromptPublic
from .response import ResponsePublic


class PairBase(SQLModel):
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    response_a_id: int = Field(foreign_key="response.id", index=True)
    response_b_id: int = Field(foreign_key="response.id", index=True)
    source: str = Field(default="", max_length=200, index=True)


class Pair(PairBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = hash_field(description="sha256(response_a hash, response_b hash).")
    job_id: int | None = Field(default=None, foreign_key="job.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class PairPublic(PairBase):
    id: int
    content_hash: str
    job_id: int | None
    created_at: datetime


class PairDetail(PairPublic):
    """``GET /pairs/{id}``: the pair with its prompt and both responses, for labelling."""

    prompt: PromptPublic
    response_a: ResponsePublic
    response_b: ResponsePublic
