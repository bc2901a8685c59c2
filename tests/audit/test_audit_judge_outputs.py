"""The audit's judge output section: per AI judge, the share of unparsable answers (recorded
as job errors, no judgment written) and of judgments with a top-k truncated choice, on SQLite
and PostgreSQL, for the whole store and for one job."""

from __future__ import annotations

import pytest

from accord.audit.loader import AuditScope
from accord.audit.report import run_audit
from accord.store.crud.jobs import create_job, record_error, resolve_error
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope


def _build(url: str) -> dict:
    engine = open_store(url)
    with session_scope(engine) as s:
        job = create_job(s, kind="recipe", name="judge")
        other = create_job(s, kind="recipe", name="judge-again")
        pairs = []
        for i in range(5):
            p = upsert_prompt(s, text=f"question {i}")
            pairs.append(
                upsert_pair(
                    s,
                    response_x=upsert_response(s, prompt=p, text=f"x{i}"),
                    response_y=upsert_response(s, prompt=p, text=f"y{i}"),
                )
            )
        for i, pair in enumerate(pairs[:4]):
            for order in ("ab", "ba"):
                truncated = i == 0 and order == "ab"
                upsert_judgment(
                    s,
                    pair=pair,
                    kind="ai",
                    judge="judge-x",
                    preferred="a",
                    prob_a=0.7,
                    presentation_order=order,
                    principle="helpful",
                    job_id=job.id,
                    meta={"p_shown_a": 0.7, "truncated_choice": truncated},
                )
            # Aggregates are not individual judgments: not counted.
            upsert_judgment(
                s,
                pair=pair,
                kind="ai",
                judge="judge-x",
                preferred="a",
                prob_a=0.7,
                presentation_order="agg",
                principle="helpful",
                is_aggregate=True,
                job_id=job.id,
                meta={"truncated_choice": True},
            )
        upsert_judgment(s, pair=pairs[0], kind="human", judge="alice", preferred="b")
        two_requests = {"model_id": "judge-x", "requests": [{"choices": ["A", "B"]}] * 2}
        record_error(
            s,
            job_id=job.id,
            step="judge",
            item_key="k1",
            cause="unparsable",
            message="unparsable: no listed answer token",
            payload=two_requests,
        )
        record_error(
            s,
            job_id=other.id,
            step="judge",
            item_key="k2",
            cause="unparsable",
            message="unparsable: no listed answer token",
            payload=two_requests,
        )
        record_error(
            s,
            job_id=job.id,
            step="judge",
            item_key="k3",
            cause="timeout",
            message="timeout",
            payload=two_requests,
        )
        record_error(
            s,
            job_id=job.id,
            step="judge",
            item_key="k4",
            cause="unparsable",
            message="later retried",
            payload=two_requests,
        )
    with session_scope(engine) as s:
        resolve_error(s, step="judge", item_key="k4")
    return {"engine": engine, "job": job.id}


def _check(built: dict) -> None:
    [whole] = run_audit(built["engine"]).to_dict()["judge_outputs"]
    assert whole == {
        "judge": "judge-x",
        "judgments": 8,
        "truncated": 1,
        "unparsable": 4,
        "unparsable_share": pytest.approx(4 / 12),
        "truncated_share": 0.125,
    }
    [one_job] = run_audit(built["engine"], AuditScope(job_id=built["job"])).judge_outputs
    assert (one_job["unparsable"], one_job["unparsable_share"]) == (2, pytest.approx(0.2))


def test_judge_output_shares_sqlite(tmp_path):
    _check(_build(f"sqlite:///{tmp_path / 'store.db'}"))


def test_judge_output_shares_postgres(pg_url):
    _check(_build(pg_url))


def test_judge_output_shares_in_the_html_report(tmp_path):
    from accord.audit.html_report import render_html

    html = render_html(run_audit(_build(f"sqlite:///{tmp_path / 'store.db'}")["engine"]).to_dict())
    section = html[html.index("<h2>Judge outputs</h2>") : html.index("<h2>Length bias</h2>")]
    assert (
        '<td class="l">judge-x</td><td>8</td><td>4</td><td>0.333</td><td>1</td><td>0.125</td>'
        in section
    )
