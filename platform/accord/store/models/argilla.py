"""Push state for Argilla: which pair went to which dataset, as which record, in which order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import utcnow


class ArgillaRecord(SQLModel, table=True):
    __tablename__ = "argilla_record"
    __table_args__ = (UniqueConstraint("dataset", "pair_id", name="uq_argilla_dataset_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    dataset: str = Field(max_length=200, index=True)
    workspace: str = Field(default="", max_length=200)
    pair_id: int = Field(foreign_key="pair.id", index=True)
    record_id: str = Field(
        max_length=100, index=True, description="Argilla external id (from accord ids)."
    )
    shown_order: str = Field(max_length=4, description="ab: response_a shown as A; ba: swapped")
    pushed_hash: str = Field(default="", max_length=64, description="Hash of the pushed content.")
    status: str = Field(default="pending", max_length=12, description="pending | pushed")
    pushed_at: datetime | None = None
    last_pulled_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
