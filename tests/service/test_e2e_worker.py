"""End to end: ``accord worker --once`` as a real process runs queued recipe, snapshot and
DPO jobs on the tiny offline model, records their rows, runs and progress, and a job queued
again with the same config adds nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlmodel import func, select

from accord.service.job_kinds import validate_config
from accord.store.crud.jobs import create_job
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope
from accord.store.models import Job, Judgment, Pair, Prompt, Response, Snapshot, TrainingRun

pytestmark = pytest.mark.slow

RECIPE = {
    "name": "worker-e2e",
    "seed": 0,
    "models": {
        "policy": {"backend": "transformers", "model": "accord/tiny", "options": {"batch_size": 32}}
    },
    "steps": [
        {"kind": "import_prompts", "name": "prompts", "bundled": "quickstart"},
        {"kind": "generate", "model": "policy", "n": 1, "max_tokens": 8, "batch_size": 32},
    ],
}


def run_worker_once(url: str, tmp_path) -> subprocess.CompletedProcess:
    """``accord worker --once --db URL`` in its own process, as an operator would run it."""
    env = dict(os.environ, ACCORD_HOME=str(tmp_path / "home"))
    code = "from accord.cli.main import app; app()"
    return subprocess.run(
        [sys.executable, "-c", code, "worker", "--once", "--db", url],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def queue(engine, kind: str, config: dict) -> int:
    """Queue a job the way ``POST /api/jobs`` does: validate its config, then store it."""
    with session_scope(engine) as session:
        return create_job(
            session,
            kind=kind,
            name=f"e2e-{kind}",
            config=validate_config(kind, config),
            created_by="e2e",
        ).id


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def job_row(engine, job_id: int) -> Job:
    with session_scope(engine) as session:
        return session.get(Job, job_id)


def assert_succeeded(engine, job_id: int, ran: subprocess.CompletedProcess) -> Job:
    job = job_row(engine, job_id)
    assert job.status == "succeeded", (job.error, ran.stdout[-2000:], ran.stderr[-4000:])
    assert job.finished_at is not None and job.worker_id
    assert job.progress_total > 0 and job.progress_done == job.progress_total, job
    return job


@pytest.fixture
def store_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'accord.db'}"


def test_worker_process_runs_a_recipe_job_once(store_url, tmp_path, tiny_model_dir):
    engine = open_store(store_url)
    first = queue(engine, "recipe", {"recipe": RECIPE})
    ran = run_worker_once(store_url, tmp_path)
    assert ran.returncode == 0, ran.stderr[-4000:]
    job = assert_succeeded(engine, first, ran)
    prompts, responses = count(engine, Prompt), count(engine, Response)
    assert prompts == 24 and responses == 24, (prompts, responses)
    with session_scope(engine) as session:
        assert (
            session.exec(
                select(func.count()).select_from(Response).where(Response.job_id == first)
            ).one()
            == 24
        )
    assert job.result and job.result.get("steps"), job.result

    # Nothing queued: the worker returns without touching the store.
    idle = run_worker_once(store_url, tmp_path)
    assert idle.returncode == 0 and "no job was queued" in idle.stdout, idle.stdout

    # The same recipe queued again is answered from the cache: no new row.
    again = queue(engine, "recipe", {"recipe": RECIPE})
    ran = run_worker_once(store_url, tmp_path)
    assert ran.returncode == 0, ran.stderr[-4000:]
    assert_succeeded(engine, again, ran)
    assert (count(engine, Prompt), count(engine, Response)) == (prompts, responses)


def seed_human_preferences(engine, n: int) -> None:
    """``n`` prompts, each with a detailed and a curt answer; a person preferred the detailed
    one."""
    with session_scope(engine) as session:
        for i in range(n):
            prompt = upsert_prompt(session, text=f"How do I water plant number {i}?", source="e2e")
            good = upsert_response(
                session,
                prompt=prompt,
                text=f"Water plant {i} weekly, soaking the soil until it drains.",
            )
            curt = upsert_response(session, prompt=prompt, text="No idea.")
            pair = upsert_pair(session, response_x=good, response_y=curt, source="e2e")
            preferred = "a" if pair.response_a_id == good.id else "b"
            upsert_judgment(session, pair=pair, kind="human", judge="ada", preferred=preferred)


def test_worker_process_builds_a_snapshot_then_trains_dpo(store_url, tmp_path, tiny_model_dir):
    engine = open_store(store_url)
    seed_human_preferences(engine, 12)
    assert (count(engine, Pair), count(engine, Judgment)) == (12, 12)

    snapshot_job = queue(
        engine,
        "snapshot",
        {"name": "e2e-prefs", "policy": "human-over-ai", "test_fraction": 0.25, "seed": 0},
    )
    ran = run_worker_once(store_url, tmp_path)
    assert ran.returncode == 0, ran.stderr[-4000:]
    snap = assert_succeeded(engine, snapshot_job, ran).result
    assert snap["n_train"] + snap["n_test"] == 12 and snap["n_train"] >= 6, snap

    train = {
        "trainer": "dpo",
        "snapshot": "e2e-prefs",
        "model": "accord/tiny",
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "learning_rate": 5e-4,
        "max_length": 64,
        "output_dir": str(tmp_path / "dpo"),
        "run_name": "e2e-dpo",
    }
    train_job = queue(engine, "train", train)
    ran = run_worker_once(store_url, tmp_path)
    assert ran.returncode == 0, ran.stderr[-4000:]
    result = assert_succeeded(engine, train_job, ran).result
    with session_scope(engine) as session:
        runs = session.exec(select(TrainingRun)).all()
        snapshot_hash = session.exec(
            select(Snapshot.content_hash).where(Snapshot.name == "e2e-prefs")
        ).one()
    assert len(runs) == 1, [(r.id, r.kind, r.status) for r in runs]
    run = runs[0]
    assert (run.kind, run.status, run.snapshot_hash) == ("dpo", "completed", snapshot_hash)
    assert result["run_id"] == run.id, result

    # The snapshot and the training queued again with the same configs add nothing.
    queue(
        engine,
        "snapshot",
        {"name": "e2e-prefs", "policy": "human-over-ai", "test_fraction": 0.25, "seed": 0},
    )
    again = queue(engine, "train", train)
    for _ in range(2):
        ran = run_worker_once(store_url, tmp_path)
        assert ran.returncode == 0, ran.stderr[-4000:]
    result = assert_succeeded(engine, again, ran).result
    assert (count(engine, Snapshot), count(engine, TrainingRun)) == (1, 1)
    assert result["run_id"] == run.id and result.get("reused") is True, result
