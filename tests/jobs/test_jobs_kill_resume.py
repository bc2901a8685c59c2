"""Kill a running job at random points (SIGKILL, SIGINT) in a subprocess, rerun, and compare
with an uninterrupted run: no duplicate rows, nothing lost, the same results."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select
from sqlmodel import Session

from accord.jobs import run_recipe
from accord.store.db import make_engine, open_store
from accord.store.models import CacheEntry, Job, Judgment, Pair, Prompt, Response

pytestmark = pytest.mark.slow

RECIPE = """\
name: killable
seed: 7
models:
  policy: {backend: transformers, model: accord/tiny, options: {batch_size: 16}}
steps:
  - {kind: import_prompts, bundled: quickstart, limit: 3}
  - {kind: generate, model: policy, n: 2, temperature: 1.0, max_tokens: 6, batch_size: 2}
  - {kind: critique_revise, model: policy, constitution: tiny-test, make_pairs: true,
     temperature: 1.0, max_tokens: 6, batch_size: 2}
  - {kind: make_pairs, input: generate}
  - {kind: judge, model: policy, constitution: tiny-test, input: [critique_revise, make_pairs],
     batch_size: 1}
"""

RUNNER = """\
import sys
from accord.jobs import run_recipe
from accord.store.db import open_store
run_recipe(open_store(sys.argv[1]), sys.argv[2], progress=False)
"""


def _snapshot(url: str) -> dict:
    engine = make_engine(url)
    with Session(engine) as s:
        snap = {
            "prompts": sorted(s.exec(select(Prompt.content_hash)).scalars().all()),
            "responses": sorted(s.exec(select(Response.content_hash)).scalars().all()),
            "pairs": sorted(s.exec(select(Pair.content_hash)).scalars().all()),
            "judgments": sorted(
                (j.key_hash, round(j.prob_a, 5)) for j in s.exec(select(Judgment)).scalars()
            ),
            "cache": sorted(s.exec(select(CacheEntry.key)).scalars().all()),
        }
    engine.dispose()
    return snap


def _latest_job_id(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            job = s.exec(select(Job).order_by(Job.id.desc())).scalars().first()
            return job.id if job else 0
    except Exception:  # noqa: BLE001 - the store may not be migrated yet
        return 0
    finally:
        engine.dispose()


def _progress(url: str, after_job_id: int = 0) -> int:
    """Progress of the newest job created after ``after_job_id`` (0 while it does not exist):
    each run makes its own job row, and the previous run's row must not count."""
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            job = (
                s.exec(select(Job).where(Job.id > after_job_id).order_by(Job.id.desc()))
                .scalars()
                .first()
            )
            return job.progress_done if job else 0
    except Exception:  # noqa: BLE001 - the store may not be migrated yet
        return 0
    finally:
        engine.dispose()


def test_kill_at_random_points_then_rerun(tmp_path, tiny_backend):
    recipe = tmp_path / "killable.yaml"
    recipe.write_text(RECIPE)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)

    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    run_recipe(open_store(reference_url), recipe, progress=False, backends={"policy": tiny_backend})
    reference = _snapshot(reference_url)
    total_units = (
        open_store(reference_url)
        .connect()
        .exec_driver_sql("select progress_total from job")
        .scalar_one()
    )

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rng = random.Random(int(os.environ.get("ACCORD_KILL_SEED", "0")))
    plan = [signal.SIGKILL, signal.SIGINT, signal.SIGKILL]
    killed_at = []
    for sig in plan:
        target = rng.randint(1, total_units - 2)
        previous_job = _latest_job_id(url)
        proc = subprocess.Popen(
            [sys.executable, str(runner), url, str(recipe)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 300
        while (
            proc.poll() is None
            and _progress(url, previous_job) < target
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))  # land anywhere, including inside a transaction
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.communicate(timeout=120)
        killed_at.append((sig.name, target, proc.returncode))
        partial = _snapshot(url)
        for kind, rows in partial.items():
            assert len(rows) == len(set(rows)), f"duplicate {kind} after {sig.name}"
            assert set(rows) <= set(reference[kind]), (
                f"{kind} that an uninterrupted run never makes"
            )
        if sig == signal.SIGINT and proc.returncode != 0:
            engine = make_engine(url)
            with Session(engine) as s:
                job = s.exec(select(Job).order_by(Job.id.desc())).scalars().first()
            engine.dispose()
            # An interrupt during the work cancels the job. One that lands after the last unit
            # (the random delay can outlast the remaining units on a fast machine) finds the
            # job complete and interrupts only the process's exit: the job stays succeeded.
            finished_before_interrupt = (
                job.status == "succeeded" and job.progress_done == job.progress_total
            )
            assert job.status == "cancelled" or finished_before_interrupt, (
                job.status,
                job.progress_done,
            )

    done = subprocess.run(
        [sys.executable, str(runner), url, str(recipe)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _snapshot(url) == reference, f"kills at {killed_at}"
