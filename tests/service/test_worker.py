"""The worker on file SQLite and a real PostgreSQL: exclusive claims, progress, cancel,
failures, and a job resumed without duplicates after its worker was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import func, select

from accord.service.config import ServiceSettings
from accord.service.worker import Worker, claim_next_job, request_cancel, requeue_stale_jobs
from accord.store.crud.jobs import create_job
from accord.store.db import session_scope
from accord.store.models import Job, Prompt

from .workloads import register

ROOT = Path(__file__).resolve().parents[2]
register()


def fast_settings(**kw) -> ServiceSettings:
    return ServiceSettings(heartbeat_seconds=0.3, stale_after_seconds=2.0, **kw)


def queue(engine, kind="count", **config) -> int:
    with session_scope(engine) as s:
        return create_job(s, kind=kind, name=kind, config=config).id


def job(engine, job_id) -> Job:
    with session_scope(engine) as s:
        return s.get(Job, job_id)


def prompts_with_source(engine, source) -> int:
    with session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(Prompt).where(Prompt.source == source)).one()


def wait_for(predicate, timeout=60.0, every=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def test_claims_are_exclusive_across_concurrent_workers(engine):
    ids = [queue(engine, n=0) for _ in range(40)]
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(4)}
    start = threading.Barrier(4)

    def claimer(name):
        start.wait()
        while (job_id := claim_next_job(engine, name)) is not None:
            claimed[name].append(job_id)

    threads = [threading.Thread(target=claimer, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [j for got in claimed.values() for j in got]
    assert sorted(everything) == ids, "every job claimed exactly once"
    with session_scope(engine) as s:
        for name, got in claimed.items():
            assert all(s.get(Job, j).worker_id == name for j in got)


def test_a_job_runs_with_progress_and_result(engine):
    job_id = queue(engine, n=4, tag="runs")
    worker = Worker(engine, settings=fast_settings(), poll_interval=0.1)
    assert worker.run_once() is True
    done = job(engine, job_id)
    assert done.status == "succeeded", done.error
    assert (done.progress_done, done.progress_total) == (4, 4)
    assert done.result == {"written": 4} and done.attempts == 1
    assert prompts_with_source(engine, "runs") == 4
    assert worker.run_once() is False


def test_cancel_stops_a_running_job(engine):
    job_id = queue(engine, n=200, delay=0.05, tag="cancel")
    worker = Worker(engine, settings=fast_settings(), poll_interval=0.1, cancel_grace_seconds=1.0)
    runner = threading.Thread(target=worker.run_once)
    runner.start()
    wait_for(lambda: job(engine, job_id).progress_done >= 3)
    with session_scope(engine) as s:
        assert request_cancel(s, job_id) == "running"
    runner.join(60)
    stopped = job(engine, job_id)
    assert stopped.status == "cancelled" and stopped.cancel_requested
    assert 3 <= prompts_with_source(engine, "cancel") < 200


def test_a_failing_job_keeps_its_error(engine):
    job_id = queue(engine, n="many")  # queued behind the API's validation: the handler fails
    Worker(engine, settings=fast_settings()).run_once()
    failed = job(engine, job_id)
    assert failed.status == "failed"
    assert failed.error.split(":")[0].endswith("Error") and "Traceback" in failed.error


def test_unknown_kind_fails_cleanly(engine):
    job_id = queue(engine, kind="no-such-kind")
    Worker(engine, settings=fast_settings()).run_once()
    assert "unknown job kind" in job(engine, job_id).error


def test_stale_jobs_are_requeued_then_failed_after_max_attempts(engine):
    from datetime import timedelta

    from accord.store.models._base import utcnow

    job_id = queue(engine, n=1)
    with session_scope(engine) as s:
        j = s.get(Job, job_id)
        j.status, j.worker_id, j.attempts = "running", "gone", 1
        j.heartbeat_at = utcnow() - timedelta(seconds=60)
    assert requeue_stale_jobs(engine, stale_after_seconds=30, max_attempts=2)["requeued"] == 1
    assert job(engine, job_id).status == "queued"
    with session_scope(engine) as s:
        j = s.get(Job, job_id)
        j.status, j.worker_id, j.attempts = "running", "gone", 2
        j.heartbeat_at = utcnow() - timedelta(seconds=60)
    assert requeue_stale_jobs(engine, stale_after_seconds=30, max_attempts=2)["failed"] == 1
    assert "lost its worker" in job(engine, job_id).error


def test_scheduled_argilla_pull_is_queued_once_per_interval(engine):
    settings = fast_settings(
        argilla_pull_every_seconds=3600, argilla_pull_config='{"dataset": "prefs"}'
    )
    worker = Worker(engine, settings=settings, kinds=["none"])
    first = worker.maybe_schedule_argilla_pull()
    assert first is not None and job(engine, first).config == {"dataset": "prefs"}
    assert worker.maybe_schedule_argilla_pull() is None


@pytest.mark.slow
def test_killed_worker_job_is_resumed_by_the_next_without_duplicates(engine):
    """SIGKILL a worker mid-job: its job process dies with it, the job goes stale, and the
    next worker queues it again and finishes it; every item exists exactly once."""
    n = 30
    job_id = queue(engine, n=n, delay=0.15, tag="resume")
    url = engine.url.render_as_string(hide_password=False)
    env = dict(os.environ, ACCORD_DATABASE_URL=url, PYTHONPATH=str(ROOT))
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.service.workloads"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: job(engine, job_id).progress_done >= 5, timeout=90)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    at_kill = job(engine, job_id)
    assert at_kill.status == "running" and at_kill.progress_done < n
    time.sleep(1.5)  # the orphaned job process must have died with its worker
    assert job(engine, job_id).progress_done <= at_kill.progress_done + 1
    second = Worker(engine, settings=fast_settings(), poll_interval=0.2)
    wait_for(lambda: second.run_once(), timeout=30, every=0.5)
    resumed = job(engine, job_id)
    assert resumed.status == "succeeded", resumed.error
    assert resumed.attempts == 2 and resumed.worker_id == second.worker_id
    assert prompts_with_source(engine, "resume") == n


def test_a_real_recipe_runs_through_the_worker_and_reruns_add_nothing(engine):
    from accord.service.job_kinds import validate_config

    config = validate_config(
        "recipe",
        {
            "recipe": {
                "name": "import-only",
                "steps": [{"kind": "import_prompts", "bundled": "quickstart"}],
            }
        },
    )
    job_id = queue(engine, kind="recipe", **config)
    worker = Worker(engine, settings=fast_settings())
    assert worker.run_once()
    done = job(engine, job_id)
    assert done.status == "succeeded", done.error
    assert done.result["steps"]["import_prompts"]["prompts"] > 0
    with session_scope(engine) as s:
        before = s.exec(select(func.count()).select_from(Prompt)).one()
        j = s.get(Job, job_id)
        j.status = "queued"  # run the same job again: its rows exist already
    assert worker.run_once()
    assert job(engine, job_id).status == "succeeded"
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Prompt)).one() == before
