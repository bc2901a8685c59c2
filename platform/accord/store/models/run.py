"""Training runs and their per-step instruments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ._base import json_field, text_field, utcnow


class TrainingRunBase(SQLModel):
    name: str = Field(default="", max_length=200, index=True)
    kind: str = Field(max_length=16, index=True, description="sft | rm | dpo | ppo | rloo | grpo")
    status: str = Field(default="running", max_length=12, index=True)
    snapshot_hash: str = Field(default="", max_length=64, index=True)
    base_model: str = Field(default="", max_length=500)
    ref_model: str = Field(default="", max_length=500)
    artifact_path: str = Field(default="", max_length=1000)
    git_revision: str = Field(default="", max_length=64)


class TrainingRun(TrainingRunBase, table=True):
    __tablename__ = "training_run"

    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int | None = Field(default=None, foreign_key="snapshot.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="job.id")
    config: dict[str, Any] = json_field()
    metrics: dict[str, Any] = json_field()
    warnings: list[str] = json_field(default_factory=list)
    error: str | None = text_field(default=None, nullable=True)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class TrainingRunPublic(TrainingRunBase):
    id: int
    snapshot_id: int | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    warnings: list[str]
    created_at: datetime
    finished_at: datetime | None


class RunMetric(SQLModel, table=True):
    __tablename__ = "run_metric"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_runmetric_step"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="training_run.id", index=True)
    step: int
    values: dict[str, Any] = json_field()
    created_at: datetime = Field(default_factory=utcnow)


class RunMetricPublic(SQLModel):
    step: int
    values: dict[str, Any]
    created_at: datetime
