"""The job worker: claims queued jobs from the store, runs each in a child process, keeps a
heartbeat, honours cancel requests, and queues again the jobs whose worker died.

Claiming is safe with any number of workers: on PostgreSQL one statement takes the oldest
queued row with ``SELECT ... FOR UPDATE SKIP LOCKED``; on SQLite a conditional
``UPDATE job SET status='running' ... WHERE id=? AND status='queued'`` succeeds for exactly one
worker. A running job whose heartbeat is older than ``stale_after_seconds`` lost its worker:
it is queued again (or failed after ``max_attempts``) and the next worker resumes it; the
jobs' content-addressed cache makes the resumed run produce each row exactly once.

    accord worker                      # until Ctrl-C
    accord worker --once               # run at most one job, then return

>>> from accord.service.worker import Worker
>>> from accord.store.db import open_store
>>> Worker(open_store("sqlite://")).run_once()     # nothing queued
False
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

from sqlalchemy import and_, select, text, update
from sqlalchemy.engine import Engine

from ..store.db import is_sqlite, session_scope
from ..store.models import Job
from ..store.models._base import utcnow
from .config import ServiceSettings
from .job_kinds import get_kind

log = logging.getLogger("accord.worker")
JOB = Job.__table__


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim_next_job(engine: Engine, worker_id: str, *, kinds: list[str] | None = None) -> int | None:
    """Take the oldest queued job for ``worker_id``; its id, or None when none is queued."""
    now = utcnow()
    claimed = {"status": "running", "worker_id": worker_id, "heartbeat_at": now}
    kind_filter = JOB.c.kind.in_(kinds) if kinds else text("1=1")
    if not is_sqlite(engine):
        oldest = (
            select(JOB.c.id)
            .where(JOB.c.status == "queued", kind_filter)
            .order_by(JOB.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with engine.begin() as conn:
            row = conn.execute(
                update(JOB).where(JOB.c.id == oldest).values(**claimed).returning(JOB.c.id)
            ).first()
        return row[0] if row else None
    while True:
        # Read outside the write transaction: a SQLite read upgraded to a write fails at once
        # (SQLITE_BUSY) when another worker committed in between, instead of waiting.
        with engine.connect() as conn:
            candidates = (
                conn.execute(
                    select(JOB.c.id)
                    .where(JOB.c.status == "queued", kind_filter)
                    .order_by(JOB.c.id)
                    .limit(8)
                )
                .scalars()
                .all()
            )
        if not candidates:
            return None
        for job_id in candidates:
            with engine.begin() as conn:
                won = conn.execute(
                    update(JOB)
                    .where(JOB.c.id == job_id, JOB.c.status == "queued")
                    .values(**claimed)
                ).rowcount
            if won == 1:
                return job_id
        # Every candidate was taken by another worker between our read and our update.


def requeue_stale_jobs(
    engine: Engine, *, stale_after_seconds: float, max_attempts: int
) -> dict[str, int]:
    """Queue again (or fail, or cancel) the running jobs whose worker stopped beating."""
    cutoff = utcnow() - timedelta(seconds=stale_after_seconds)
    stale = and_(JOB.c.status == "running", JOB.c.heartbeat_at < cutoff)
    now = utcnow()
    with engine.begin() as conn:
        cancelled = conn.execute(
            update(JOB)
            .where(stale, JOB.c.cancel_requested.is_(True))
            .values(
                status="cancelled",
                finished_at=now,
                error="cancelled while its worker was gone",
                worker_id=None,
            )
        ).rowcount
        failed = conn.execute(
            update(JOB)
            .where(stale, JOB.c.attempts >= max_attempts)
            .values(
                status="failed",
                finished_at=now,
                worker_id=None,
                error=f"lost its worker {max_attempts} times; not retried again",
            )
        ).rowcount
        requeued = conn.execute(
            update(JOB)
            .where(stale)
            .values(
                status="queued",
                worker_id=None,
                progress_message="queued again: its worker stopped responding",
            )
        ).rowcount
    if requeued or failed or cancelled:
        log.warning(
            "stale jobs: %d queued again, %d failed, %d cancelled", requeued, failed, cancelled
        )
    return {"requeued": requeued, "failed": failed, "cancelled": cancelled}


def request_cancel(db, job_id: int) -> str | None:
    """Ask a job to stop. A queued job is cancelled at once; a running one by its worker.

    ``db`` is a Session or a Connection (the caller commits). Returns the job's status
    afterwards, or None when there is no such job.
    """
    db.execute(
        update(JOB)
        .where(JOB.c.id == job_id, JOB.c.status == "queued")
        .values(status="cancelled", cancel_requested=True, finished_at=utcnow(), error="cancelled")
    )
    db.execute(
        update(JOB)
        .where(JOB.c.id == job_id, JOB.c.status == "running")
        .values(cancel_requested=True)
    )
    return db.execute(select(JOB.c.status).where(JOB.c.id == job_id)).scalar()


def _beat(engine: Engine, job_id: int, worker_id: str) -> tuple[bool, bool]:
    """Heartbeat; returns (still ours, cancel requested)."""
    with engine.begin() as conn:
        ours = (
            conn.execute(
                update(JOB)
                .where(
                    JOB.c.id == job_id,
                    JOB.c.worker_id == worker_id,
                    JOB.c.status == "running",
                )
                .values(heartbeat_at=utcnow())
            ).rowcount
            == 1
        )
        cancel = bool(
            conn.execute(select(JOB.c.cancel_requested).where(JOB.c.id == job_id)).scalar()
        )
    return ours, cancel


def _stop(child: subprocess.Popen, grace: float) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


class Worker:
    """Runs queued jobs one at a time until stopped."""

    def __init__(
        self,
        engine: Engine,
        *,
        settings: ServiceSettings | None = None,
        worker_id: str | None = None,
        kinds: list[str] | None = None,
        poll_interval: float = 1.0,
        cancel_grace_seconds: float = 5.0,
    ):
        self.engine = engine
        self.settings = settings or ServiceSettings()
        self.worker_id = worker_id or new_worker_id()
        self.kinds = kinds
        self.poll_interval = poll_interval
        self.cancel_grace_seconds = cancel_grace_seconds
        self.stopping = threading.Event()
        self.url = engine.url.render_as_string(hide_password=False)

    # -- one job --------------------------------------------------------------------------
    def _spawn(self, job_id: int, handler: str) -> subprocess.Popen:
        env = dict(
            os.environ,
            ACCORD_DATABASE_URL=self.url,
            PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
        )
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "accord.service.jobrun",
                "--job",
                str(job_id),
                "--worker",
                self.worker_id,
                "--handler",
                handler,
            ],
            env=env,
        )

    def _fail(self, job_id: int, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(JOB)
                .where(
                    JOB.c.id == job_id, JOB.c.status == "running", JOB.c.worker_id == self.worker_id
                )
                .values(status="failed", error=error, finished_at=utcnow())
            )

    def run_job(self, job_id: int) -> str:
        """Supervise one claimed job until it ends; returns its final status."""
        with session_scope(self.engine) as session:
            job = session.get(Job, job_id)
            kind = job.kind
        try:
            handler = get_kind(kind).handler
        except ValueError as exc:
            self._fail(job_id, str(exc))
            return "failed"
        log.info("job %d (%s) started by %s", job_id, kind, self.worker_id)
        child = self._spawn(job_id, handler)
        cancel_seen_at: float | None = None
        try:
            while child.poll() is None:
                try:
                    child.wait(self.settings.heartbeat_seconds)
                    break
                except subprocess.TimeoutExpired:
                    pass
                ours, cancel = _beat(self.engine, job_id, self.worker_id)
                if not ours:
                    if child.poll() is None:  # taken back (stale) while still running here
                        log.warning("job %d is no longer ours; stopping its process", job_id)
                        _stop(child, self.cancel_grace_seconds)
                    break
                if cancel and cancel_seen_at is None:
                    cancel_seen_at = time.monotonic()
                if cancel_seen_at and time.monotonic() - cancel_seen_at > self.cancel_grace_seconds:
                    _stop(child, self.cancel_grace_seconds)
                    with self.engine.begin() as conn:
                        conn.execute(
                            update(JOB)
                            .where(JOB.c.id == job_id, JOB.c.status == "running")
                            .values(status="cancelled", error="cancelled", finished_at=utcnow())
                        )
                    break
                if self.stopping.is_set():
                    # Shutting down: stop the job and give it back to the queue at once.
                    _stop(child, self.cancel_grace_seconds)
                    with self.engine.begin() as conn:
                        conn.execute(
                            update(JOB)
                            .where(
                                JOB.c.id == job_id,
                                JOB.c.status == "running",
                                JOB.c.worker_id == self.worker_id,
                            )
                            .values(
                                status="queued",
                                worker_id=None,
                                progress_message="queued again: its worker stopped",
                            )
                        )
                    break
        except BaseException:
            _stop(child, 1.0)
            raise
        code = child.wait()
        if code != 0:
            self._fail(job_id, f"the job's process exited with code {code}")
        with session_scope(self.engine) as session:
            status = session.get(Job, job_id).status
        log.info("job %d ended: %s", job_id, status)
        return status

    # -- the loop -------------------------------------------------------------------------
    def maybe_schedule_argilla_pull(self) -> int | None:
        """Queue the scheduled Argilla pull when it is due and none is queued or running."""
        every = self.settings.argilla_pull_every_seconds
        if every <= 0:
            return None
        from ..store.crud.jobs import create_job

        with session_scope(self.engine) as session:
            pulls = session.execute(
                select(JOB.c.status, JOB.c.created_at)
                .where(JOB.c.kind == "argilla_pull")
                .order_by(JOB.c.id.desc())
                .limit(1)
            ).first()
            if pulls is not None and (
                pulls.status in ("queued", "running")
                or pulls.created_at > utcnow() - timedelta(seconds=every)
            ):
                return None
            job = create_job(
                session,
                kind="argilla_pull",
                name="scheduled-argilla-pull",
                config=self.settings.argilla_pull_options(),
                created_by="scheduler",
            )
            return job.id

    def run_once(self) -> bool:
        """Requeue stale jobs, then run at most one queued job. True when one ran."""
        requeue_stale_jobs(
            self.engine,
            stale_after_seconds=self.settings.stale_after_seconds,
            max_attempts=self.settings.max_attempts,
        )
        self.maybe_schedule_argilla_pull()
        job_id = claim_next_job(self.engine, self.worker_id, kinds=self.kinds)
        if job_id is None:
            return False
        self.run_job(job_id)
        return True

    def run_forever(self, *, max_jobs: int | None = None) -> int:
        """Run jobs until ``stop()`` (or SIGTERM/SIGINT in the main thread); returns jobs run."""
        done = 0
        while not self.stopping.is_set():
            if self.run_once():
                done += 1
                if max_jobs is not None and done >= max_jobs:
                    break
            else:
                self.stopping.wait(self.poll_interval)
        return done

    def stop(self) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        def handle(_signum, _frame):
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
