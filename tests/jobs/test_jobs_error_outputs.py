"""A unit whose output cannot be parsed keeps what the model said beside its request."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from accord.backends.base import GenerationRequest
from accord.jobs.context import StepContext
from accord.jobs.execute import WorkUnit, run_units
from accord.jobs.progress import JobProgress
from accord.rlaif.templates import UnparsableOutput
from accord.store.crud.jobs import create_job
from accord.store.db import session_scope
from accord.store.models import JobError

pytestmark = pytest.mark.slow  # the real tiny model generates


def _expect_a_number(unit, results):
    text = results[0].text.strip()
    if not text.isdigit():
        raise UnparsableOutput(f"expected a number, got {text[:40]!r}")
    return int(text)


def test_unparsable_output_is_kept_beside_the_request(store, tiny_backend, tmp_path):
    with session_scope(store) as session:
        job_id = create_job(session, kind="recipe", name="numbers").id
    ctx = StepContext(
        engine=store,
        job_id=job_id,
        seed=0,
        base_dir=tmp_path,
        retry_errors=True,
        progress=JobProgress(show=False),
        models={},
    )
    question = "How many legs has a cat? Answer with a number."
    request = GenerationRequest(
        messages=[{"role": "user", "content": question}], max_tokens=8, temperature=1.0, seed=3
    )
    for attempt in (1, 2):
        done = run_units(
            ctx,
            step="count",
            backend=tiny_backend,
            units=[WorkUnit([request])],
            batch_size=1,
            parse=_expect_a_number,
            write=lambda s, u, parsed: parsed,
        )
        assert done == []
        with Session(store) as session:
            (error,) = session.execute(select(JobError)).scalars().all()
        (said,) = error.payload["outputs"]
        assert error.cause == "unparsable" and error.attempts == attempt
        assert said["text"] and repr(said["text"].strip()[:40]) in error.message  # the raw text
        assert said["finish_reason"] in ("length", "stop") and said["error"] is None
        assert question in str(error.payload["requests"][0])
