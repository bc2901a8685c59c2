"""Jobs, their per-item errors, and the content-addressed cache that makes them resumable.

A job step asks the cache for a key (model, backend, messages, sampling params, seed, step)
before calling a backend; the output and the rows it produced are written in one
transaction with the cache entry, so a killed job rerun finds its work done exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import field_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from ...names import name_field
from ...secret_values import redact
from ._base import hash_field, json_field, text_field, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class JobBase(SQLModel):
    kind: str = Field(max_length=32, index=True, description="recipe | train | snapshot | ...")
    name: str = Field(default="", max_length=200)
    status: str = Field(default="queued", max_length=12, index=True)
    progress_done: int = 0
    progress_total: int = 0
    progress_message: str = Field(default="", max_length=500)


class Job(JobBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    config: dict[str, Any] = json_field()
    config_hash: str = Field(default="", max_length=64, index=True)
    result: dict[str, Any] = json_field()
    error: str | None = text_field(default=None, nullable=True)
    worker_id: str | None = Field(default=None, max_length=100)
    heartbeat_at: datetime | None = None
    cancel_requested: bool = False
    attempts: int = 0
    created_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobPublic(JobBase):
    id: int
    config: dict[str, Any]
    config_hash: str
    result: dict[str, Any]
    error: str | None
    worker_id: str | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @field_validator("config", "result")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Rows stored before secrets were redacted on write are redacted when shown.
        return redact(value)


class JobCreate(SQLModel):
    """``POST /jobs``: a job to queue (its ``config`` is checked by the kind's validator)."""

    kind: str = Field(
        max_length=32, description="recipe | train | snapshot | argilla_pull | argilla_push"
    )
    name: name_field("job", optional=True) = ""
    config: dict[str, Any] = Field(default_factory=dict)


class JobProgress(SQLModel):
    """A job's status and counters (``GET /jobs/{id}/progress`` and its ``/events``)."""

    id: int
    kind: str
    status: str
    done: int
    total: int
    fraction: float | None
    message: str
    attempts: int
    cancel_requested: bool
    heartbeat_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, job: Job) -> JobProgress:
        total = job.progress_total
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            done=job.progress_done,
            total=total,
            fraction=round(min(job.progress_done / total, 1.0), 4) if total else None,
            message=job.progress_message,
            attempts=job.attempts,
            cancel_requested=job.cancel_requested,
            heartbeat_at=job.heartbeat_at,
            error=(job.error or "").splitlines()[0][:500] if job.error else None,
        )


class JobError(SQLModel, table=True):
    """An item a job could not do (timeout, refusal, unparsable answer): kept, never dropped."""

    __table_args__ = (UniqueConstraint("step", "item_key", name="uq_joberror_step_item"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int | None = Field(default=None, foreign_key="job.id", index=True)
    step: str = Field(max_length=100)
    item_key: str = Field(max_length=64, index=True)
    cause: str = Field(max_length=32, description="timeout | refusal | unparsable | backend | ...")
    message: str = text_field(default="")
    payload: dict[str, Any] = json_field()
    attempts: int = 1
    resolved: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class JobErrorPublic(SQLModel):
    id: int
    job_id: int | None
    step: str
    item_key: str
    cause: str
    message: str
    attempts: int
    resolved: bool
    created_at: datetime
    updated_at: datetime


class CacheEntry(SQLModel, table=True):
    """One backend call's output, addressed by the hash of everything that determined it."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = hash_field()
    step: str = Field(max_length=100, index=True)
    model_id: str = Field(default="", max_length=300)
    backend: str = Field(default="", max_length=32)
    request: dict[str, Any] = json_field()
    output: dict[str, Any] = json_field()
    job_id: int | None = Field(default=None, foreign_key="job.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
