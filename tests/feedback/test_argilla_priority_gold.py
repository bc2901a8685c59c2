"""Routing on the real Argilla server: records come back in priority order when sorted by their
``accord_priority`` metadata; gold pairs are mixed in at the asked rate, look like any other
record to an annotator, and their answers give each annotator's gold accuracy, which
``--min-gold-accuracy`` then uses to drop a careless annotator's labels from a snapshot."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from accord.audit.report import run_audit
from accord.feedback.argilla import pull_judgments, push_pairs
from accord.feedback.argilla.schema import to_shown
from accord.gold import add_gold_file
from accord.snapshots import create_snapshot
from accord.store.crud.judgments import upsert_judgment
from accord.store.db import session_scope
from accord.store.models import ArgillaRecord, GoldPair, Pair

from .conftest import records_by_pair, seed_pairs

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def _sorted_by_priority(client, dataset_id: str) -> list[dict]:
    """The dataset's records as the server orders them by the priority metadata, descending."""
    body = {
        "sort": [
            {
                "scope": {"entity": "metadata", "metadata_property": "accord_priority"},
                "order": "desc",
            }
        ]
    }
    response = client.post(
        f"/api/v1/me/datasets/{dataset_id}/records/search", json=body, params={"limit": 100}
    )
    assert response.status_code == 200, response.text
    return [item["record"] for item in response.json()["items"]]


def _ai(store, pair_id: int, prob_a: float, judge: str = "judge-x") -> None:
    with session_scope(store) as s:
        upsert_judgment(
            s,
            pair=s.get(Pair, pair_id),
            kind="ai",
            judge=judge,
            is_aggregate=True,
            presentation_order="agg",
            prob_a=prob_a,
            preferred="a" if prob_a > 0.5 else "b",
        )


def test_uncertainty_priority_is_the_order_the_server_sorts_records_in(
    store, connection, make_annotator, unique_name
):
    pair_ids = seed_pairs(store, 6, tag="prio")
    probs = dict(zip(pair_ids, [0.95, 0.52, 0.10, 0.70, 0.45, 0.31]))
    for pid, p in probs.items():
        _ai(store, pid, p)
    pushed = push_pairs(
        store,
        dataset=unique_name,
        workspace=unique_name,
        connection=connection,
        priority="uncertainty",
    )
    assert (pushed.created, pushed.priority) == (6, "uncertainty")
    expected = sorted(pair_ids, key=lambda pid: (abs(probs[pid] - 0.5), pid))
    annotator = make_annotator(f"{unique_name}-a", unique_name)
    order = [
        r["metadata"]["accord_priority"]
        for r in _sorted_by_priority(annotator.http, pushed.dataset_id)
    ]
    records = records_by_pair(connection, pushed.dataset_id)
    by_priority = sorted(records, key=lambda pid: -records[pid]["metadata"]["accord_priority"])
    assert by_priority == expected
    assert order == sorted(order, reverse=True) and len(order) == 6
    server_order = [
        r["metadata"]["accord_pair_id"]
        for r in _sorted_by_priority(connection.http, pushed.dataset_id)
    ]
    assert server_order == expected

    # Re-pushing with another priority rewrites the metadata in place (no new records).
    again = push_pairs(
        store,
        dataset=unique_name,
        workspace=unique_name,
        connection=connection,
        priority="random",
        seed=3,
        pair_ids=pair_ids,
    )
    assert (again.created, again.updated) == (0, 6)
    shuffled = [
        r["metadata"]["accord_pair_id"]
        for r in _sorted_by_priority(connection.http, pushed.dataset_id)
    ]
    assert sorted(shuffled) == sorted(pair_ids) and shuffled != expected


def test_priority_on_a_dataset_made_before_the_priority_metadata(store, connection, unique_name):
    import argilla as rg

    from accord.feedback.argilla import schema
    from accord.feedback.argilla.users import resolve_workspace_name

    pair_ids = seed_pairs(store, 3, tag="old")
    settings = schema.dataset_settings()
    settings.metadata = [m for m in settings.metadata if m.name != "accord_priority"]
    workspace = resolve_workspace_name(connection, unique_name)  # created if missing
    rg.Dataset(
        name=unique_name, workspace=workspace, settings=settings, client=connection.client
    ).create()
    for pid, p in zip(pair_ids, (0.9, 0.5, 0.7)):
        _ai(store, pid, p)
    pushed = push_pairs(
        store,
        dataset=unique_name,
        workspace=unique_name,
        connection=connection,
        priority="uncertainty",
    )
    server_order = [
        r["metadata"]["accord_pair_id"]
        for r in _sorted_by_priority(connection.http, pushed.dataset_id)
    ]
    assert server_order == [pair_ids[1], pair_ids[2], pair_ids[0]]


def _gold_file(tmp_path, n: int) -> str:
    path = tmp_path / "gold.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": f"Gold question {i}: capital of country {i}?",
                    "chosen": f"**City {i}** is the capital.",
                    "rejected": f"It is village {i}.",
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    return str(path)


def test_gold_pairs_are_mixed_in_unrecognisably_and_measure_annotators(
    store, connection, make_annotator, unique_name, tmp_path
):
    regular = seed_pairs(store, 12, tag="mix")
    added = add_gold_file(store, _gold_file(tmp_path, 6))
    assert (added.created, added.new_pairs) == (6, 6)
    with Session(store) as s:
        gold = {g.pair_id: g.answer for g in s.exec(select(GoldPair)).all()}

    pushed = push_pairs(
        store,
        dataset=unique_name,
        workspace=unique_name,
        connection=connection,
        gold_rate=0.25,
        priority="random",
        seed=1,
    )
    assert (pushed.selected, pushed.gold, pushed.created) == (12, 4, 16)  # 4 / 16 = 0.25
    with Session(store) as s:
        pushed_ids = set(
            s.exec(select(ArgillaRecord.pair_id).where(ArgillaRecord.dataset == unique_name)).all()
        )
    assert set(regular) < pushed_ids and len(pushed_ids & set(gold)) == 4

    careful = make_annotator(f"{unique_name}-careful", unique_name)
    careless = make_annotator(f"{unique_name}-careless", unique_name)
    seen = _sorted_by_priority(careful.http, pushed.dataset_id)
    assert len(seen) == 16
    # What an annotator sees of a record says nothing about being gold: the same metadata keys,
    # the same id scheme, a priority from the same set of values.
    assert {frozenset(r["metadata"]) for r in seen} == {
        frozenset({"accord_pair_id", "accord_priority"})
    }
    assert {r["external_id"].rsplit("-", 1)[0] for r in seen} == {"accord-pair"}
    priority = {r["metadata"]["accord_pair_id"]: r["metadata"]["accord_priority"] for r in seen}
    assert {priority[pid] for pid in gold if pid in priority} <= {priority[pid] for pid in regular}

    records = records_by_pair(connection, pushed.dataset_id)
    with Session(store) as s:
        orders = {r.pair_id: r.shown_order for r in s.exec(select(ArgillaRecord)).all()}
    for pid, record in records.items():
        if pid in gold:
            right = gold[pid]
            careful.submit(record["id"], to_shown(right, orders[pid]))
            careless.submit(record["id"], to_shown("a" if right == "b" else "b", orders[pid]))
        else:
            careful.submit(record["id"], "a")
            careless.submit(record["id"], "b")
    pulled = pull_judgments(
        store, dataset=unique_name, workspace=unique_name, connection=connection
    )
    assert pulled.created == 32

    rows = {r["annotator"]: r for r in run_audit(store).to_dict()["gold_accuracy"]}
    assert (rows[careful.username]["n_gold"], rows[careful.username]["accuracy"]) == (4, 1.0)
    assert (rows[careless.username]["correct"], rows[careless.username]["accuracy"]) == (0, 0.0)
    assert rows[careful.username]["ci_low"] > rows[careless.username]["ci_high"]

    snap = create_snapshot(
        store,
        name=f"{unique_name}-gold",
        policy="human-over-ai",
        test_fraction=0.0,
        min_gold_accuracy=0.8,
        pair_ids=regular,
    )
    excluded = snap.manifest["gold"]["excluded"]
    assert [e["annotator"] for e in excluded] == [careless.username]
    assert "gold accuracy 0.000 < 0.8" in excluded[0]["reason"]
    assert snap.manifest["gold"]["excluded_labels"] == 12  # its labels on the regular pairs
    assert snap.manifest["params"]["min_gold_accuracy"] == 0.8
    # Only the careful annotator's labels remain: every regular pair is labelled a by one vote.
    assert snap.n_train == 12 and snap.manifest["source_mix"] == {"human": 12}


def test_argilla_push_job_runs_through_the_worker(
    store, connection, unique_name, argilla_server, monkeypatch
):
    from accord.service.config import ServiceSettings
    from accord.service.worker import Worker
    from accord.store.crud.jobs import create_job
    from accord.store.models import Job

    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)
    pair_ids = seed_pairs(store, 4, tag="job")
    for pid, p in zip(pair_ids, (0.9, 0.55, 0.2, 0.65)):
        _ai(store, pid, p)
    with session_scope(store) as s:
        job_id = create_job(
            s,
            kind="argilla_push",
            name="push",
            config={"dataset": unique_name, "workspace": unique_name, "priority": "uncertainty"},
        ).id
    assert Worker(store, settings=ServiceSettings(), poll_interval=0.1).run_once() is True
    with Session(store) as s:
        done = s.get(Job, job_id)
    assert done.status == "succeeded", done.error
    assert (done.result["created"], done.result["priority"]) == (4, "uncertainty")
    server_order = [
        r["metadata"]["accord_pair_id"]
        for r in _sorted_by_priority(connection.http, done.result["dataset_id"])
    ]
    assert server_order == [pair_ids[1], pair_ids[3], pair_ids[2], pair_ids[0]]


def test_cli_push_with_priority_and_gold_rate(
    store, connection, unique_name, argilla_server, monkeypatch, tmp_path
):
    from typer.testing import CliRunner

    from accord.cli.main import app

    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)
    seed_pairs(store, 9, tag="cli-mix")
    db = str(store.url)
    runner = CliRunner()
    added = runner.invoke(app, ["gold", "add", _gold_file(tmp_path, 3), "--db", db])
    assert added.exit_code == 0, added.output
    pushed = runner.invoke(
        app,
        [
            "argilla",
            "push",
            "--dataset",
            unique_name,
            "--workspace",
            unique_name,
            "--priority",
            "disagreement",
            "--gold-rate",
            "0.25",
            "--db",
            db,
            "--json",
        ],
    )
    assert pushed.exit_code == 0, pushed.output
    result = json.loads(pushed.output)
    assert (result["selected"], result["gold"], result["created"]) == (9, 3, 12)
    assert len(_sorted_by_priority(connection.http, result["dataset_id"])) == 12
