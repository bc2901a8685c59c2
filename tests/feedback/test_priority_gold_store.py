"""Priority scores, gold pairs and gold accuracy on real stores (no Argilla server needed)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.audit.gold import gold_accuracy_section, wilson_interval
from accord.audit.html_report import render_html
from accord.audit.report import run_audit
from accord.cli.main import app
from accord.feedback.argilla.priority import order_by_priority, priority_scores
from accord.formats.base import InvalidRecordError
from accord.gold import add_gold_file
from accord.importer import import_file
from accord.store.crud.calibrations import create_calibration
from accord.store.crud.judgments import upsert_judgment
from accord.store.db import session_scope
from accord.store.models import GoldPair, Judgment, Pair

from .conftest import seed_pairs


def _judge(
    store,
    pair_id,
    *,
    judge="j",
    prob_a=None,
    preferred=None,
    order="agg",
    principle="",
    aggregate=None,
):
    with session_scope(store) as s:
        if preferred is None and prob_a is not None:
            preferred = "a" if prob_a > 0.5 else ("b" if prob_a < 0.5 else "tie")
        upsert_judgment(
            s,
            pair=s.get(Pair, pair_id),
            kind="ai",
            judge=judge,
            prob_a=prob_a,
            preferred=preferred,
            presentation_order=order,
            principle=principle,
            is_aggregate=order == "agg" if aggregate is None else aggregate,
        )


def test_uncertainty_uses_the_newest_calibration_of_the_judge(engine):
    ids = seed_pairs(engine, 3, tag="unc")
    for pid, p in zip(ids, (0.6, 0.8, 0.3)):
        _judge(engine, pid, prob_a=p)
    raw = priority_scores(engine, ids, priority="uncertainty")
    assert raw == {ids[0]: 0.8, ids[1]: 0.4, ids[2]: 0.6}
    assert order_by_priority(raw) == [ids[0], ids[2], ids[1]]
    # A Platt map that shifts the judge's labels down by 2 logits: 0.8 becomes the closest to
    # 0.5 (σ(logit 0.8 − 2) = 0.351), so it goes first.
    figure = {"value": 0.1}
    with session_scope(engine) as s:
        create_calibration(
            s,
            key_hash="k" * 64,
            judge="j",
            constitution_hash="",
            principle="",
            method="platt",
            human_label_hash="h" * 64,
            n=50,
            params={"a": 1.0, "b": -2.0},
            report={
                "ece": {"before": figure, "after": figure},
                "brier": {"before": figure, "after": figure},
            },
        )
    calibrated = priority_scores(engine, ids, priority="uncertainty")
    assert order_by_priority(calibrated)[0] == ids[1]
    assert calibrated[ids[1]] == pytest.approx(1 - 2 * abs(0.351207 - 0.5), abs=1e-4)


def test_disagreement_position_inconsistency_and_random(engine):
    ids = seed_pairs(engine, 3, tag="dis")
    # pair 0: three principles, 2 vs 1; pair 1: all agree; pair 2: one voter only
    for principle, p in (("helpful", 0.9), ("harmless", 0.8), ("honest", 0.2)):
        _judge(engine, ids[0], prob_a=p, principle=principle, order="ab")
    for principle in ("helpful", "harmless"):
        _judge(engine, ids[1], prob_a=0.7, principle=principle, order="ab")
    _judge(engine, ids[2], prob_a=0.5, principle="helpful", order="ab")
    scores = priority_scores(engine, ids, priority="disagreement")
    assert scores == {ids[0]: pytest.approx(1 / 3, abs=1e-6), ids[1]: 0.0, ids[2]: 0.0}

    # Position: pair 1 flips between its two orders, pair 0 only drifts, pair 2 has one order.
    _judge(engine, ids[0], prob_a=0.75, principle="helpful", order="ba")
    _judge(engine, ids[1], prob_a=0.3, principle="helpful", order="ba")
    scores = priority_scores(engine, ids, priority="position-inconsistent")
    assert order_by_priority(scores) == [ids[1], ids[0], ids[2]]
    assert scores[ids[2]] == 0.0 and 0 < scores[ids[0]] < 0.5 < scores[ids[1]]

    first = priority_scores(engine, ids, priority="random", seed=1)
    assert first == priority_scores(engine, ids, priority="random", seed=1)
    assert first != priority_scores(engine, ids, priority="random", seed=2)
    with pytest.raises(ValueError, match="priority must be one of"):
        priority_scores(engine, ids, priority="loudest")


def test_gold_file_rows_and_errors_name_file_line_and_field(engine, tmp_path):
    ids = seed_pairs(engine, 1, tag="gold")
    path = tmp_path / "gold.jsonl"
    path.write_text(
        json.dumps({"pair_id": ids[0], "answer": "b"})
        + "\n\n"
        + json.dumps({"prompt": "P", "chosen": "yes", "rejected": "no"})
        + "\n"
    )
    result = add_gold_file(engine, path)
    assert (result.rows, result.created, result.new_pairs) == (2, 2, 1)
    with Session(engine) as s:
        rows = {g.pair_id: g for g in s.exec(select(GoldPair)).all()}
        new_pair = s.get(Pair, result.pair_ids[1])
        chosen_side = "a" if new_pair.response_a_id == _response_id(s, "yes") else "b"
    assert rows[ids[0]].answer == "b" and rows[result.pair_ids[1]].answer == chosen_side
    assert rows[ids[0]].source == "gold:gold.jsonl"
    with Session(engine) as s:  # gold answers are not judgments
        assert s.exec(select(Judgment)).all() == []

    for line, field in (
        ({"pair_id": ids[0], "answer": "tie"}, "answer"),
        ({"pair_id": 10**6, "answer": "a"}, "pair_id"),
        ({"prompt": "P2", "chosen": "same", "rejected": "same"}, "rejected"),
        ({"prompt": "P3", "chosen": ""}, "chosen"),
    ):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(
            json.dumps({"prompt": "ok", "chosen": "c1", "rejected": "r1"})
            + "\n"
            + json.dumps(line)
            + "\n"
        )
        with pytest.raises(InvalidRecordError) as error:
            add_gold_file(engine, bad)
        assert (error.value.line, error.value.field) == (2, field)
        assert str(error.value).startswith(f"{bad}:2: field {field!r}")
    with Session(engine) as s:  # all or nothing: the good first line was not kept either
        assert len(s.exec(select(GoldPair)).all()) == 2


def _response_id(session, text):
    from accord.store.models import Response

    return session.exec(select(Response.id).where(Response.text == text)).one()


def test_import_gold_flag_stores_answers_not_judgments(sqlite_url, tmp_path):
    from accord.store.db import open_store

    engine = open_store(sqlite_url)
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"prompt": "Q", "chosen": "right", "rejected": "wrong"}) + "\n")
    report = import_file(engine, path, fmt="trl", gold=True)
    assert (report.gold, report.new["pairs"], report.new["judgments"]) == (1, 1, 0)
    with Session(engine) as s:
        gold = s.exec(select(GoldPair)).one()
        pair = s.get(Pair, gold.pair_id)
        right = _response_id(s, "right")
    assert gold.answer == ("a" if pair.response_a_id == right else "b")
    assert gold.source == "import:g.jsonl"


def test_gold_accuracy_in_the_audit_json_text_and_html(engine):
    ids = seed_pairs(engine, 5, tag="acc")
    with session_scope(engine) as s:
        for pid in ids:
            s.add(GoldPair(pair_id=pid, answer="a"))
        for i, pid in enumerate(ids):
            pair = s.get(Pair, pid)
            upsert_judgment(
                s, pair=pair, kind="human", judge="ann", preferred="a" if i < 4 else "tie"
            )
            upsert_judgment(s, pair=pair, kind="human", judge="bob", preferred="b")
    rows = gold_accuracy_section(engine)
    assert [(r["annotator"], r["n_gold"], r["correct"], r["accuracy"]) for r in rows] == [
        ("ann", 5, 4, 0.8),
        ("bob", 5, 0, 0.0),
    ]
    assert (rows[0]["ci_low"], rows[0]["ci_high"]) == wilson_interval(4, 5)
    report = run_audit(engine).to_dict()
    assert report["gold_accuracy"] == rows
    html = render_html(report)
    assert "Gold pairs" in html and "[0.376, 0.964]" in html
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["audit", "--db", url])
    assert result.exit_code == 0, result.output
    assert "Gold pairs" in result.output and "Wilson" in result.output


def test_wilson_interval_matches_the_closed_form():
    z2 = 1.959964**2  # with no success the upper end is z² / (n + z²)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2), abs=1e-6))
    assert wilson_interval(10, 10) == (pytest.approx(10 / (10 + z2), abs=1e-6), 1.0)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_cli_gold_add_and_push_option_errors(sqlite_url, tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(
        json.dumps({"prompt": "Q", "chosen": "c", "rejected": "r"}) + "\n" + "{not json\n"
    )
    runner = CliRunner()
    bad = runner.invoke(app, ["gold", "add", str(path), "--db", sqlite_url])
    assert bad.exit_code == 1 and f"{path}:2" in bad.output and "nothing from" in bad.output
    path.write_text(json.dumps({"prompt": "Q", "chosen": "c", "rejected": "r"}) + "\n")
    ok = runner.invoke(app, ["gold", "add", str(path), "--db", sqlite_url, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["created"] == 1
    listed = runner.invoke(app, ["gold", "list", "--db", sqlite_url, "--json"])
    assert json.loads(listed.output)["total"] == 1
    push = runner.invoke(
        app, ["argilla", "push", "--dataset", "d", "--priority", "loud", "--db", sqlite_url]
    )
    assert push.exit_code == 2 and "--priority must be one of" in push.output


def test_recipe_push_step_takes_priority_and_gold_rate():
    from pydantic import ValidationError

    from accord.workflows.argilla_steps import ArgillaPushConfig

    step = ArgillaPushConfig(kind="argilla_push", priority="disagreement", gold_rate=0.2)
    assert (step.priority, step.gold_rate) == ("disagreement", 0.2)
    for bad in ({"priority": "loudest"}, {"gold_rate": 1.0}):
        with pytest.raises(ValidationError):
            ArgillaPushConfig(kind="argilla_push", **bad)
