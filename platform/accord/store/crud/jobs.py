"""Keyword-only CRUD for jobs and their error records."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, func, select

from ...hashing import content_hash
from ...names import check_name
from ...secret_values import redact
from ..models import Job, JobError
from ..models._base import utcnow
from .paging import equal_to, page


def create_job(
    session: Session,
    *,
    kind: str,
    name: str = "",
    config: dict[str, Any] | None = None,
    status: str = "queued",
    created_by: str | None = None,
) -> Job:
    if name:
        check_name(name, what="job")
    # Secrets are never stored: a literal one is redacted (a reference {"env": NAME} is kept).
    config = redact(config or {})
    job = Job(
        kind=kind,
        name=name,
        config=config,
        config_hash=content_hash(kind, config),
        status=status,
        created_by=created_by,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, *, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Job], int]:
    conds = equal_to({Job.status: status, Job.kind: kind})
    return page(session, Job, conds, order_by=Job.id.desc(), offset=offset, limit=limit)


def set_progress(
    session: Session,
    *,
    job: Job,
    done: int | None = None,
    total: int | None = None,
    message: str | None = None,
) -> Job:
    if done is not None:
        job.progress_done = done
    if total is not None:
        job.progress_total = total
    if message is not None:
        job.progress_message = message[:500]
    job.heartbeat_at = utcnow()
    session.add(job)
    session.flush()
    return job


def mark_running(session: Session, *, job: Job, worker_id: str | None = None) -> Job:
    job.status = "running"
    job.worker_id = worker_id
    job.attempts += 1
    job.started_at = job.started_at or utcnow()
    job.heartbeat_at = utcnow()
    job.error = None
    session.add(job)
    session.flush()
    return job


def finish_job(
    session: Session,
    *,
    job: Job,
    status: str = "succeeded",
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> Job:
    job.status = status
    job.error = error
    if result is not None:
        job.result = result
    job.finished_at = utcnow()
    session.add(job)
    session.flush()
    return job


def record_error(
    session: Session,
    *,
    job_id: int | None,
    step: str,
    item_key: str,
    cause: str,
    message: str,
    payload: dict[str, Any] | None = None,
) -> JobError:
    """Record (or count again) an item a job could not do."""
    err = session.exec(
        select(JobError).where(JobError.step == step, JobError.item_key == item_key)
    ).first()
    if err is None:
        err = JobError(
            job_id=job_id,
            step=step,
            item_key=item_key,
            cause=cause,
            message=message,
            payload=payload or {},
        )
    else:
        err.attempts += 1
        err.cause, err.message, err.resolved = cause, message, False
        err.job_id = job_id or err.job_id
        err.payload = payload or err.payload  # what the model said this time
        err.updated_at = utcnow()
    session.add(err)
    session.flush()
    return err


def resolve_error(session: Session, *, step: str, item_key: str) -> None:
    err = session.exec(
        select(JobError).where(JobError.step == step, JobError.item_key == item_key)
    ).first()
    if err is not None and not err.resolved:
        err.resolved = True
        err.updated_at = utcnow()
        session.add(err)
        session.flush()


def list_errors(
    session: Session,
    *,
    job_id: int | None = None,
    step: str | None = None,
    unresolved_only: bool = True,
    limit: int | None = None,
) -> list[JobError]:
    conds = equal_to({JobError.job_id: job_id, JobError.step: step})
    if unresolved_only:
        conds.append(JobError.resolved == False)
    return list(
        session.exec(select(JobError).where(*conds).order_by(JobError.id).limit(limit)).all()
    )


def recent_jobs(session: Session, *, limit: int = 100) -> list[Job]:
    """The newest jobs first."""
    return list(session.exec(select(Job).order_by(Job.id.desc()).limit(limit)).all())


def job_counts(session: Session) -> dict[str, int]:
    """``{"total": n, <status>: n, ...}`` over every job."""
    by_status = dict(session.exec(select(Job.status, func.count()).group_by(Job.status)).all())
    return {"total": sum(by_status.values()), **by_status}
