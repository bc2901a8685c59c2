"""One job, run in its own process by a worker (``python -m accord.service.jobrun``).

A job runs in a child process so that cancelling it, or losing its worker, stops it for
certain: the worker terminates the child on cancel, and the child dies with its worker
(Linux parent-death signal, or a watch on the parent's pid elsewhere). The store URL comes
in ``ACCORD_DATABASE_URL`` (never on the command line, where ``ps`` would show a password).

    ACCORD_DATABASE_URL=sqlite:///accord.db python -m accord.service.jobrun \
        --job 7 --worker host:123 --handler accord.service.job_kinds:run_snapshot_job
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from sqlalchemy.engine import Engine

from ..store.crud.jobs import finish_job, get_job, mark_running, set_progress
from ..store.db import session_scope


class JobCancelledError(RuntimeError):
    """Raised by ``JobContext.progress`` once the job's cancel was requested."""


def _cancel_error_types() -> tuple[type[BaseException], ...]:
    try:
        from ..jobs.context import JobCancelled
    except ImportError:
        return (JobCancelledError,)
    return (JobCancelledError, JobCancelled)


class JobContext:
    """What a job handler sees: the store, its job's id and config, and a progress reporter."""

    def __init__(self, *, engine: Engine, job_id: int, worker_id: str, config: dict[str, Any]):
        self.engine = engine
        self.job_id = job_id
        self.worker_id = worker_id
        self.config = config

    def cancel_requested(self) -> bool:
        with session_scope(self.engine) as session:
            job = get_job(session, job_id=self.job_id)
            return job is None or job.cancel_requested

    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None
    ) -> None:
        """Record progress (and a heartbeat); raise ``JobCancelledError`` if cancel was asked."""
        with session_scope(self.engine) as session:
            job = get_job(session, job_id=self.job_id)
            set_progress(session, job=job, done=done, total=total, message=message)
            cancelled = job.cancel_requested
        if cancelled:
            raise JobCancelledError(f"job {self.job_id} was cancelled")


def die_with_parent() -> None:
    """Make this process end when the worker that started it ends (even by SIGKILL)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def run_job(engine: Engine, *, job_id: int, worker_id: str, handler_path: str) -> str:
    """Run one claimed job to its end; returns its final status.

    The job must be ``running`` under ``worker_id`` (the worker's claim); otherwise nothing
    is done, so a job taken back by another worker is never run twice at once.
    """
    from .job_kinds import resolve_handler

    with session_scope(engine) as session:
        job = get_job(session, job_id=job_id)
        if job is None or job.status != "running" or job.worker_id != worker_id:
            return job.status if job is not None else "missing"
        mark_running(session, job=job, worker_id=worker_id)
        config = dict(job.config)
    ctx = JobContext(engine=engine, job_id=job_id, worker_id=worker_id, config=config)
    status, error, result = "succeeded", None, None
    try:
        handler = resolve_handler(handler_path)
        result = handler(ctx)
    except _cancel_error_types() as exc:
        status, error = "cancelled", str(exc) or "cancelled"
    except BaseException as exc:  # noqa: BLE001 - any failure is the job's result, kept with its traceback
        status = "failed"
        frames = traceback.format_exc(limit=8).splitlines()[-40:]
        error = (
            f"{type(exc).__name__}: {str(exc)[:1500]}\nTraceback (last frames):\n"
            + "\n".join(frames)[-4000:]
        )
    with session_scope(engine) as session:
        job = get_job(session, job_id=job_id)
        # Handlers that finish their own row (run_recipe does) are not overwritten.
        if job.status == "running" and job.worker_id == worker_id:
            finish_job(
                session,
                job=job,
                status=status,
                error=error,
                result=result if isinstance(result, dict) else None,
            )
        return job.status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", type=int, required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--handler", required=True)
    args = parser.parse_args(argv)
    die_with_parent()
    from ..store.db import open_store

    engine = open_store(os.environ["ACCORD_DATABASE_URL"], migrate=False)
    status = run_job(engine, job_id=args.job, worker_id=args.worker, handler_path=args.handler)
    return 0 if status in ("succeeded", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
