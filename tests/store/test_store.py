"""The preference store on SQLite and a real PostgreSQL: natural keys, lineage, history."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from accord.store.crud import annotators, jobs, judgments, pairs, prompts, responses
from accord.store.crud.stats import store_stats
from accord.store.db import current_revision, head_revision, session_scope, table_names
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord
from accord.store.models import Judgment, JudgmentRevision, Pair, Prompt, Response


def test_migrations_create_every_table(engine):
    assert current_revision(engine) == head_revision()
    names = set(table_names(engine))
    for t in (
        "prompt",
        "response",
        "pair",
        "judgment",
        "judgmentrevision",
        "annotator",
        "constitution",
        "job",
        "joberror",
        "cacheentry",
        "snapshot",
        "snapshotexample",
        "training_run",
        "run_metric",
        "service_user",
        "argilla_record",
    ):
        assert t in names


def test_natural_keys_make_writes_idempotent(engine):
    with session_scope(engine) as s:
        p1 = prompts.upsert_prompt(s, text="What is 2+2?", source="t")
        p2 = prompts.upsert_prompt(s, text="What is 2+2?", source="other")
        assert p1.id == p2.id and p2.source == "t"
        x = responses.upsert_response(
            s,
            prompt=p1,
            text="4",
            model_id="m",
            backend="transformers",
            sampling_params={"temperature": 0.0},
        )
        y = responses.upsert_response(s, prompt=p1, text="5", model_id="m")
        assert responses.upsert_response(s, prompt=p1, text="4", model_id="m").id == x.id
        pair1 = pairs.upsert_pair(s, response_x=x, response_y=y)
        pair2 = pairs.upsert_pair(s, response_x=y, response_y=x)
        assert pair1.id == pair2.id
        assert {pair1.response_a_id, pair1.response_b_id} == {x.id, y.id}
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Prompt)).one() == 1
        assert s.exec(select(func.count()).select_from(Response)).one() == 2
        assert s.exec(select(func.count()).select_from(Pair)).one() == 1


def test_pair_rejects_mismatched_prompts(engine):
    with session_scope(engine) as s:
        a = responses.upsert_response(s, prompt=prompts.upsert_prompt(s, text="A"), text="x")
        b = responses.upsert_response(s, prompt=prompts.upsert_prompt(s, text="B"), text="y")
        with pytest.raises(ValueError, match="same prompt"):
            pairs.upsert_pair(s, response_x=a, response_y=b)


def test_revision_lineage(engine):
    with session_scope(engine) as s:
        p = prompts.upsert_prompt(s, text="Q")
        r0 = responses.upsert_response(s, prompt=p, text="draft", model_id="m")
        c1 = responses.upsert_response(
            s, prompt=p, text="too short", role="critique", parent=r0, principle="helpful", round=1
        )
        r1 = responses.upsert_response(
            s,
            prompt=p,
            text="better draft",
            role="revision",
            parent=c1,
            principle="helpful",
            round=1,
        )
        assert [r.role for r in responses.lineage(s, response_id=r1.id)] == [
            "initial",
            "critique",
            "revision",
        ]
        # The same text under another parent is another response (lineage is part of the key).
        other = responses.upsert_response(
            s, prompt=p, text="better draft", role="revision", parent=r0
        )
        assert other.id != r1.id
        with pytest.raises(ValueError, match="role"):
            responses.upsert_response(s, prompt=p, text="x", role="bogus")


def test_judgment_unique_per_identity_order_principle_constitution(engine):
    with session_scope(engine) as s:
        p = prompts.upsert_prompt(s, text="Q")
        pair = pairs.upsert_pair(
            s,
            response_x=responses.upsert_response(s, prompt=p, text="1"),
            response_y=responses.upsert_response(s, prompt=p, text="2"),
        )
        seen = set()
        for order in ("ab", "ba"):
            for principle in ("harm", "help"):
                for chash in ("c1", "c2"):
                    j, status = judgments.upsert_judgment(
                        s,
                        pair=pair,
                        kind="ai",
                        judge="judge-model",
                        preferred="a",
                        prob_a=0.7,
                        presentation_order=order,
                        principle=principle,
                        constitution_hash=chash,
                    )
                    assert status == "created"
                    seen.add(j.id)
        assert len(seen) == 8
        _, status = judgments.upsert_judgment(
            s,
            pair=pair,
            kind="ai",
            judge="judge-model",
            preferred="a",
            prob_a=0.7,
            presentation_order="ab",
            principle="harm",
            constitution_hash="c1",
        )
        assert status == "unchanged"


def test_changed_answer_keeps_history(engine):
    with session_scope(engine) as s:
        p = prompts.upsert_prompt(s, text="Q")
        pair = pairs.upsert_pair(
            s,
            response_x=responses.upsert_response(s, prompt=p, text="1"),
            response_y=responses.upsert_response(s, prompt=p, text="2"),
        )
        ann = annotators.get_or_create_annotator(
            s, username="alice", source="argilla", external_id="u1"
        )
        j, _ = judgments.upsert_judgment(
            s,
            pair=pair,
            kind="human",
            judge="alice",
            preferred="a",
            annotator_id=ann.id,
            presentation_order="ba",
        )
        j2, status = judgments.upsert_judgment(
            s,
            pair=pair,
            kind="human",
            judge="alice",
            preferred="tie",
            annotator_id=ann.id,
            presentation_order="ba",
            rationale="on reflection, equal",
        )
        assert status == "updated" and j2.id == j.id
        hist = judgments.judgment_history(s, judgment_id=j.id)
        assert [h.preferred for h in hist] == ["a"]
    with Session(engine) as s:
        assert s.exec(select(Judgment.preferred)).all() == ["tie"]


@pytest.mark.parametrize(
    "bad",
    [
        dict(kind="robot"),
        dict(preferred="c"),
        dict(prob_a=1.5),
        dict(presentation_order="xy"),
        dict(preferred=None),
    ],
)
def test_judgment_validation(engine, bad):
    with session_scope(engine) as s:
        p = prompts.upsert_prompt(s, text="Q")
        pair = pairs.upsert_pair(
            s,
            response_x=responses.upsert_response(s, prompt=p, text="1"),
            response_y=responses.upsert_response(s, prompt=p, text="2"),
        )
        args = dict(kind="human", judge="x", preferred="a") | bad
        with pytest.raises(ValueError):
            judgments.upsert_judgment(s, pair=pair, **args)


def test_failed_transaction_stores_nothing(engine):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as s:
            prompts.upsert_prompt(s, text="kept?")
            raise RuntimeError("boom")
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Prompt)).one() == 0


def test_bulk_ingest_is_idempotent_and_tracks_changes(engine):
    recs = [
        PreferenceRecord(
            prompt=f"prompt {i}",
            chosen=f"good {i}",
            rejected=f"bad {i}",
            source="bulk",
            judgments=[
                JudgmentSpec(kind="human", annotator="ann1"),
                JudgmentSpec(kind="ai", judge="m", prob_chosen=0.8),
            ],
        )
        for i in range(1200)
    ]
    with session_scope(engine) as s:
        c1 = PreferenceIngestor(s, batch_size=500).ingest(recs)
    assert (c1.prompts, c1.responses, c1.pairs, c1.judgments) == (1200, 2400, 1200, 2400)
    with session_scope(engine) as s:
        c2 = PreferenceIngestor(s, batch_size=500).ingest(recs)
    assert (c2.prompts, c2.responses, c2.pairs, c2.judgments, c2.updated) == (0, 0, 0, 0, 0)
    assert c2.unchanged == 2400
    recs[0].judgments[1].prob_chosen = 0.3
    with session_scope(engine) as s:
        c3 = PreferenceIngestor(s).ingest(recs[:1])
    assert c3.updated == 1
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(JudgmentRevision)).one() == 1
        stats = store_stats(s)
    assert stats["judgments"] == {"total": 2400, "human": 1200, "ai": 1200}
    assert stats["annotators"] == 1


def test_job_errors_are_recorded_not_dropped(engine):
    with session_scope(engine) as s:
        job = jobs.create_job(s, kind="recipe", name="t", config={"a": 1})
        jobs.mark_running(s, job=job, worker_id="w1")
        jobs.record_error(
            s, job_id=job.id, step="judge", item_key="k" * 64, cause="unparsable", message="?"
        )
        jobs.record_error(
            s, job_id=job.id, step="judge", item_key="k" * 64, cause="timeout", message="slow"
        )
        errs = jobs.list_errors(s, job_id=job.id)
        assert len(errs) == 1 and errs[0].attempts == 2 and errs[0].cause == "timeout"
        jobs.resolve_error(s, step="judge", item_key="k" * 64)
        assert jobs.list_errors(s, job_id=job.id) == []
        jobs.finish_job(s, job=job, result={"rows": 3})
        assert job.status == "succeeded" and job.attempts == 1
