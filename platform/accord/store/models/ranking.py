"""Rankings: one annotator's (or one AI judge's) order of K responses to one prompt.

A ranking is kept as such (who ranked, the responses, their ranks with ties allowed, the order
they were shown in) and expanded into the (K choose 2) pairwise judgments it implies; each of
those judgments points back at its ranking (``Judgment.ranking_id``), so the audit and the
training data can tell that they came from one reading, not from independent votes.

A ranking is unique per (prompt, set of responses, kind, judge, principle, constitution
version, method); ``key_hash`` holds that natural key, so writing it again updates instead of
duplicating. ``group_key`` names the ranked item (prompt and set of responses) alone: every
ranker of the same K responses shares it, which is what rank agreement compares and what a
snapshot's ``group`` column holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ._base import hash_field, json_field, text_field, utcnow

MIN_K = 2
MAX_K = 16
# How an AI judge ranks (accord.rlaif.rank); part of the ranking's natural key.
METHODS = ("bradley-terry", "listwise")


def method_error(kind: str, method: str) -> str | None:
    """Why ``method`` is not allowed on a ranking of ``kind`` (None when it is): an AI ranking
    names one of ``METHODS`` or none, an annotator's none."""
    if not method:
        return None
    if kind != "ai":
        return f"only AI rankings have a method, this one is {kind!r}"
    if method not in METHODS:
        return f"must be one of {METHODS} or empty, got {method!r}"
    return None


class RankingBase(SQLModel):
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    kind: str = Field(max_length=8, description="human | ai")
    judge: str = Field(
        max_length=300, index=True, description="Annotator username or judge model id."
    )
    principle: str = Field(default="", max_length=100)
    k: int = Field(description="How many responses were ranked.")
    response_ids: list[int] = json_field(
        default_factory=list,
        description="The ranked responses, in canonical order (by response content hash).",
    )
    ranks: list[int] = json_field(
        default_factory=list,
        description="Rank of each response of response_ids: 1 is best, equal ranks are ties "
        "(dense: 1, 2, 2, 3).",
    )
    shown_order: list[int] = json_field(
        default_factory=list,
        description="Response ids in the order the ranker saw them (empty when unknown).",
    )
    status: str = Field(default="submitted", max_length=12)


class Ranking(RankingBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = hash_field(
        description="sha256(prompt, responses, kind, judge, principle, constitution hash, "
        "method when set)."
    )
    method: str = Field(
        default="",
        max_length=32,
        description="How an AI judge ranked (bradley-terry | listwise); empty for rankings "
        "given as such (annotators, imports).",
    )
    group_key: str = Field(
        max_length=64, index=True, description="sha256(prompt, responses): the ranked item."
    )
    annotator_id: int | None = Field(default=None, foreign_key="annotator.id")
    judge_backend: str = Field(default="", max_length=32)
    constitution_id: int | None = Field(default=None, foreign_key="constitution.id")
    constitution_hash: str = Field(default="", max_length=64)
    scores: list[float] | None = json_field(
        default_factory=lambda: None,
        nullable=True,
        description="Per response of response_ids: the AI judge's Bradley–Terry strength.",
    )
    rationale: str | None = text_field(default=None, nullable=True)
    source: str = Field(default="", max_length=300)
    external_id: str | None = Field(default=None, max_length=100)
    job_id: int | None = Field(default=None, foreign_key="job.id")
    meta: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RankingPublic(RankingBase):
    id: int
    key_hash: str
    method: str
    group_key: str
    annotator_id: int | None
    judge_backend: str
    constitution_hash: str
    scores: list[float] | None
    source: str
    external_id: str | None
    job_id: int | None
    created_at: datetime
    updated_at: datetime
