"""Judgments: who or what preferred which side of a pair, under which constitution and
principle, in which presentation order, with soft probability, rationale and raw output.

A judgment is unique per (pair, kind, judge identity, presentation order, principle,
constitution version); ``key_hash`` holds that natural key so re-ingesting updates instead of
duplicating.
Changes to a human answer are kept in ``JudgmentRevision``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from ._base import MAX_ID, hash_field, json_field, text_field, utcnow

KINDS = ("human", "ai")
SIDES = ("a", "b", "tie")
# "ab": the canonical response_a was shown first (as "A"); "ba": swapped; "agg": an aggregate
# over orders/principles written by the AI judge; "": unknown (imports).
ORDERS = ("ab", "ba", "agg", "")
STATUSES = ("submitted", "discarded")


class JudgmentBase(SQLModel):
    pair_id: int = Field(foreign_key="pair.id", index=True)
    kind: str = Field(max_length=8, description="human | ai")
    judge: str = Field(
        max_length=300, index=True, description="Annotator username or judge model id."
    )
    principle: str = Field(default="", max_length=100)
    presentation_order: str = Field(default="", max_length=4)
    preferred: str | None = Field(default=None, max_length=4, description="a | b | tie (canonical)")
    prob_a: float | None = Field(default=None, description="P(response_a preferred), soft label.")
    strength: int | None = Field(default=None, description="Optional preference strength rating.")
    rationale: str | None = text_field(default=None, nullable=True)
    status: str = Field(default="submitted", max_length=12)
    is_aggregate: bool = Field(default=False)


class JudgmentCreate(SQLModel):
    """``POST /judgments``: a human label, which canonical side of the pair is better (the
    signed-in user is the judge)."""

    pair_id: int = Field(ge=1, le=MAX_ID)
    preferred: Literal["a", "b", "tie"]
    presentation_order: Literal["ab", "ba", ""] = Field(
        default="", description="Order the annotator saw: ab (response_a first) or ba."
    )
    principle: str = Field(default="", max_length=100)
    strength: int | None = Field(default=None, ge=-100, le=100)
    rationale: str | None = None


def _index_of_set_values(column: str) -> Index:
    """An index on a nullable link holding only the rows where it is set: lookups are always
    ``column = value`` (which implies NOT NULL, so both SQLite and PostgreSQL use it), and the
    rows without the link (most of them: imports have no job, AI judgments no annotator) cost
    an insert nothing."""
    where = text(f"{column} IS NOT NULL")
    return Index(f"ix_judgment_{column}", column, sqlite_where=where, postgresql_where=where)


class Judgment(JudgmentBase, table=True):
    # Every index costs each judgment insert (the store's most written table), so only what a
    # query filters on is indexed: pair_id, judge, source (Argilla pulls), the natural key,
    # and annotator_id and job_id where set. No query filters on external_id or
    # constitution_id.
    __table_args__ = (_index_of_set_values("annotator_id"), _index_of_set_values("job_id"))

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = hash_field(
        description="sha256(pair, kind, judge, presentation order, principle, constitution hash)."
    )
    annotator_id: int | None = Field(default=None, foreign_key="annotator.id")
    judge_backend: str = Field(default="", max_length=32)
    constitution_id: int | None = Field(default=None, foreign_key="constitution.id")
    constitution_hash: str = Field(default="", max_length=64)
    raw_output: str | None = text_field(default=None, nullable=True)
    source: str = Field(default="", max_length=300, index=True)
    external_id: str | None = Field(default=None, max_length=100)
    job_id: int | None = Field(default=None, foreign_key="job.id")
    meta: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class JudgmentPublic(JudgmentBase):
    id: int
    key_hash: str
    annotator_id: int | None
    judge_backend: str
    constitution_id: int | None
    constitution_hash: str
    source: str
    external_id: str | None
    job_id: int | None
    created_at: datetime
    updated_at: datetime


class JudgmentCreated(SQLModel):
    """``POST /judgments``'s answer: the judgment and whether it was new, changed or the same."""

    judgment: JudgmentPublic
    outcome: Literal["created", "updated", "unchanged"]


class JudgmentRevision(SQLModel, table=True):
    """The value a judgment had before it was changed (history of edited human answers)."""

    id: int | None = Field(default=None, primary_key=True)
    judgment_id: int = Field(foreign_key="judgment.id", index=True)
    preferred: str | None = Field(default=None, max_length=4)
    prob_a: float | None = None
    strength: int | None = None
    rationale: str | None = text_field(default=None, nullable=True)
    status: str = Field(default="submitted", max_length=12)
    valid_from: datetime
    replaced_at: datetime = Field(default_factory=utcnow)


class JudgmentRevisionPublic(SQLModel):
    id: int
    judgment_id: int
    preferred: str | None
    prob_a: float | None
    strength: int | None
    rationale: str | None
    status: str
    valid_from: datetime
    replaced_at: datetime
