"""Gold pairs: pairs whose right answer is known, mixed into Argilla pushes to measure each
annotator's accuracy (``accord gold add``, ``accord import --gold``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ._base import utcnow

ANSWERS = ("a", "b")


class GoldPairBase(SQLModel):
    pair_id: int = Field(foreign_key="pair.id", unique=True, index=True)
    answer: str = Field(max_length=4, description="The better side, canonical: a | b.")
    source: str = Field(default="", max_length=300, description="Where the answer came from.")


class GoldPair(GoldPairBase, table=True):
    __tablename__ = "gold_pair"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class GoldPairPublic(GoldPairBase):
    id: int
    created_at: datetime


class GoldPairCreate(SQLModel):
    """``POST /gold``: items as in ``accord gold add``, stored all or none."""

    items: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10_000,
        description="{prompt, chosen, rejected} or {pair_id, answer}.",
    )
    source: str = Field(
        default="gold:api", max_length=300, description="Where the answers come from."
    )
