"""Responses with lineage: which model made them, from which parent, in which role.

A *human demonstration* (role ``demonstration``, InstructGPT's human data) is a response an
annotator wrote for a prompt (``accord argilla push --mode demonstration``): its author is the
annotator (``annotator_id``; ``model_id`` is ``human:<username>`` and ``backend`` ``human``),
``source`` says where it came from (``argilla:<dataset>``) and ``external_id`` the answer's id
there. An edited answer is a new row whose parent is the one it replaces (never an overwrite);
``withdrawn_at`` is set when the annotator discarded or deleted it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from ._base import hash_field, json_field, text_field, utcnow

ROLES = ("initial", "critique", "revision", "demonstration")
HUMAN_BACKEND = "human"  # backend of a response an annotator wrote


def human_model_id(username: str) -> str:
    """The ``model_id`` of a response an annotator wrote: ``human:<username>``."""
    return f"human:{username}"


_ANNOTATOR_SET = text("annotator_id IS NOT NULL")


class ResponseBase(SQLModel):
    text: str = text_field()
    role: str = Field(default="initial", max_length=16, index=True, description="|".join(ROLES))
    model_id: str = Field(default="", max_length=300, index=True, description="Generator model.")
    backend: str = Field(
        default="", max_length=32, description="transformers | openai | vllm | import"
    )


class Response(ResponseBase, table=True):
    # Responses written by annotators are few: their author is indexed where set only.
    __table_args__ = (
        Index(
            "ix_response_annotator_id",
            "annotator_id",
            sqlite_where=_ANNOTATOR_SET,
            postgresql_where=_ANNOTATOR_SET,
        ),
    )

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
    annotator_id: int | None = Field(
        default=None, foreign_key="annotator.id", description="Author of a human demonstration."
    )
    source: str | None = Field(
        default=None, max_length=300, description="Where a human demonstration came from."
    )
    external_id: str | None = Field(
        default=None, max_length=100, description="The answer's id at its source (Argilla)."
    )
    withdrawn_at: datetime | None = Field(
        default=None, description="When the annotator discarded or deleted this demonstration."
    )
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
    annotator_id: int | None = None
    source: str | None = None
    withdrawn_at: datetime | None = None
    created_at: datetime
