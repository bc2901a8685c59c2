"""Jobs: submit a recipe, a training config, a snapshot or an Argilla pull; follow its
progress (polling or server-sent events); cancel it; queue it again."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from ...store.crud import jobs as crud
from ...store.models import Job, JobCreate, JobErrorPublic, JobProgress, JobPublic, User
from ..auth import OPERATE, READ_OPS
from ..deps import IdPath, PageDep, SessionDep, SettingsDep, allow
from ..job_kinds import ApiJobPolicy, JobConfigError, job_kinds, validate_config
from ..pages import Page, page_of
from ..worker import request_cancel

router = APIRouter(prefix="/jobs", tags=["jobs"])

TERMINAL = ("succeeded", "failed", "cancelled")
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


def _job_or_404(session: Session, job_id: int) -> Job:
    job = crud.get_job(session, job_id=job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


def enqueue(
    session: Session, *, kind: str, name: str, config: dict[str, Any], user: User, settings
) -> Job:
    """Validate and queue a job (422 naming every bad field); paths, secrets and
    ``trust_remote_code`` are held to the service's policy."""
    try:
        clean = validate_config(kind, config, policy=ApiJobPolicy.from_settings(settings))
    except JobConfigError as exc:
        raise HTTPException(422, [{"field": f, "message": m} for f, m in exc.problems]) from None
    return crud.create_job(
        session, kind=kind, name=name or kind, config=clean, created_by=user.name
    )


@router.get("", response_model=Page[JobPublic], dependencies=[Depends(allow(READ_OPS))])
def list_jobs(
    session: SessionDep,
    page: PageDep,
    status: Annotated[Status | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
):
    rows, total = crud.list_jobs(
        session, status=status, kind=kind, offset=page.offset, limit=page.limit
    )
    return page_of(JobPublic, rows, total, page)


@router.get(
    "/kinds", dependencies=[Depends(allow(READ_OPS))], summary="Job kinds this service runs"
)
def list_kinds() -> list[str]:
    return sorted(job_kinds())


@router.post("", response_model=JobPublic, status_code=201)
def submit_job(
    body: JobCreate,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, Depends(allow(OPERATE))],
):
    """Queue a job; a worker (``accord worker``) picks it up."""
    return enqueue(
        session, kind=body.kind, name=body.name, config=body.config, user=user, settings=settings
    )


@router.get("/{job_id}", response_model=JobPublic, dependencies=[Depends(allow(READ_OPS))])
def show_job(job_id: IdPath, session: SessionDep):
    return _job_or_404(session, job_id)


@router.get(
    "/{job_id}/progress", response_model=JobProgress, dependencies=[Depends(allow(READ_OPS))]
)
def job_progress(job_id: IdPath, session: SessionDep):
    """The job's status and counters (poll this, or stream ``/events``)."""
    return JobProgress.of(_job_or_404(session, job_id))


@router.get(
    "/{job_id}/errors", response_model=list[JobErrorPublic], dependencies=[Depends(allow(READ_OPS))]
)
def job_errors(
    job_id: IdPath,
    session: SessionDep,
    unresolved_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    _job_or_404(session, job_id)
    return crud.list_errors(session, job_id=job_id, unresolved_only=unresolved_only, limit=limit)


@router.get(
    "/{job_id}/events",
    dependencies=[Depends(allow(READ_OPS))],
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`progress` events until the job ends",
        }
    },
)
async def job_events(job_id: IdPath, request: Request, settings: SettingsDep):
    """Server-sent events: one ``progress`` event per change, ``end`` when the job ends."""
    engine = request.app.state.engine

    def read() -> JobProgress | None:
        with Session(engine) as session:
            job = crud.get_job(session, job_id=job_id)
            return JobProgress.of(job) if job is not None else None

    first = await to_thread.run_sync(read)
    if first is None:
        raise HTTPException(404, f"no job {job_id}")

    async def stream():
        deadline = time.monotonic() + settings.sse_max_seconds
        last, current, last_sent = None, first, time.monotonic()
        while True:
            body = current.model_dump_json()
            if body != last:
                yield f"event: progress\ndata: {body}\n\n"
                last, last_sent = body, time.monotonic()
            if current.status in TERMINAL:
                yield f"event: end\ndata: {json.dumps({'status': current.status})}\n\n"
                return
            if time.monotonic() > deadline or await request.is_disconnected():
                return
            if time.monotonic() - last_sent > 15:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
            await asyncio.sleep(0.5)
            current = await to_thread.run_sync(read)
            if current is None:
                return

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/{job_id}/cancel",
    response_model=JobPublic,
    status_code=202,
    dependencies=[Depends(allow(OPERATE))],
)
def cancel_job(job_id: IdPath, session: SessionDep):
    """Cancel a queued job at once, or ask its worker to stop a running one."""
    job = _job_or_404(session, job_id)
    if job.status in TERMINAL:
        raise HTTPException(409, f"job {job_id} already ended ({job.status})")
    request_cancel(session, job_id)
    session.flush()
    session.refresh(job)
    return job


@router.post(
    "/{job_id}/retry",
    response_model=JobPublic,
    status_code=202,
    dependencies=[Depends(allow(OPERATE))],
)
def retry_job(job_id: IdPath, session: SessionDep):
    """Queue a failed or cancelled job again; work already done is found in the cache."""
    job = _job_or_404(session, job_id)
    if job.status not in ("failed", "cancelled"):
        raise HTTPException(
            409, f"only failed or cancelled jobs are retried; job {job_id} is {job.status}"
        )
    job.status, job.cancel_requested, job.worker_id, job.finished_at = "queued", False, None, None
    job.progress_message = "queued again"
    session.add(job)
    session.flush()
    return job
