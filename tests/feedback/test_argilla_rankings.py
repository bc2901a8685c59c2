"""``accord argilla push --mode ranking --k 4`` → two annotators rank 4 responses through the
REST API the web UI uses → ``pull --mode ranking`` → human rankings (annotator identity, shown
order kept) expanded into pairwise judgments, idempotently; on the real Argilla server."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.cli.argilla import app
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import session_scope
from accord.store.models import Annotator, Judgment, Ranking, Response

from .test_argilla_webhooks import receiver  # noqa: F401  (the webhook endpoint fixture)

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def _seed(engine, n_prompts=3, n_responses=5):
    """Prompts with five answers each: 'quality q' in the text says how good an answer is."""
    with session_scope(engine) as s:
        for i in range(n_prompts):
            p = upsert_prompt(s, text=f"Explain idea {i}.", source="rank-test")
            for q in range(n_responses):
                upsert_response(s, prompt=p, text=f"Answer {i}, quality {q}.")
        # a prompt with too few responses is left out
        p = upsert_prompt(s, text="Short prompt.", source="rank-test")
        upsert_response(s, prompt=p, text="only one")


@pytest.fixture
def cli(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)
    runner = CliRunner()

    def run(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    return run


def _quality(text: str) -> int:
    return int(text.rsplit("quality ", 1)[1].rstrip("."))


def test_two_annotators_rank_four_responses(cli, store, unique_name, make_annotator, connection):
    _seed(store)
    db = str(store.url)
    push = ("push", "--mode", "ranking", "--k", "4", "--dataset", unique_name)
    pushed = cli(*push, "--workspace", unique_name, "--db", db, "--min-submitted", "2")
    assert (pushed["selected"], pushed["sent"], pushed["skipped_prompts"]) == (3, 3, 1)
    again = cli(*push, "--workspace", unique_name, "--db", db)
    assert again["sent"] == 3
    items = connection.get_json(f"/api/v1/datasets/{pushed['dataset_id']}/records")["items"]
    assert len(items) == 3  # pushing again updated the same records
    dataset = connection.get_json(f"/api/v1/datasets/{pushed['dataset_id']}/questions")["items"]
    assert [(q["name"], q["settings"]["type"]) for q in dataset] == [("ranking", "ranking")]

    ann1 = make_annotator(f"{unique_name}-a1", unique_name)
    ann2 = make_annotator(f"{unique_name}-a2", unique_name)
    shown_orders = {}
    for record in items:
        shown = json.loads(record["metadata"]["accord_response_ids"])
        assert len(shown) == 4
        shown_orders[record["id"]] = shown
        texts = [record["fields"][f"response_{n}"] for n in range(1, 5)]
        with Session(store) as s:
            assert texts == [s.get(Response, i).text for i in shown]  # shown as kept
        best_first = sorted(range(4), key=lambda n: -_quality(texts[n]))
        # annotator 1: by quality; annotator 2: the same but ties the two worst
        v1 = [{"value": f"response_{n + 1}", "rank": r} for r, n in enumerate(best_first, 1)]
        v2 = [
            {"value": f"response_{n + 1}", "rank": min(r, 3)} for r, n in enumerate(best_first, 1)
        ]
        for ann, value in ((ann1, v1), (ann2, v2)):
            answer = ann.http.post(
                f"/api/v1/records/{record['id']}/responses",
                json={"status": "submitted", "values": {"ranking": {"value": value}}},
            )
            assert answer.status_code == 201, answer.text

    pulled = cli("pull", "--mode", "ranking", "--dataset", unique_name, "--db", db)
    assert (pulled["records"], pulled["created"], pulled["problems"]) == (3, 6, [])
    with Session(store) as s:
        rankings = s.exec(select(Ranking)).all()
        annotators = {a.username: a for a in s.exec(select(Annotator)).all()}
        assert {r.judge for r in rankings} == {ann1.username, ann2.username}
        for r in rankings:
            assert r.kind == "human" and r.source == f"argilla:{unique_name}"
            assert r.annotator_id == annotators[r.judge].id and r.k == 4
            assert r.shown_order in shown_orders.values()
            quality = {i: _quality(s.get(Response, i).text) for i in r.response_ids}
            rank_of = dict(zip(r.response_ids, r.ranks))
            best_first = sorted(r.response_ids, key=lambda i: -quality[i])
            expected = [1, 2, 3, 3] if r.judge == ann2.username else [1, 2, 3, 4]
            assert [rank_of[i] for i in best_first] == expected
            expanded = s.exec(select(Judgment).where(Judgment.ranking_id == r.id)).all()
            assert len(expanded) == 6
            ties = sum(j.preferred == "tie" for j in expanded)
            assert ties == (1 if r.judge == ann2.username else 0)
        assert annotators[ann1.username].external_id == ann1.user_id
    assert cli("pull", "--mode", "ranking", "--dataset", unique_name, "--db", db)["unchanged"] == 6


def test_webhooks_bring_rankings_back(
    store,
    connection,
    make_annotator,
    unique_name,
    receiver,  # noqa: F811
):
    from accord.feedback.argilla.rankings import push_rankings
    from accord.feedback.argilla.webhooks import register_webhook, verify_and_ingest

    from .test_argilla_webhooks import _next_delivery

    _seed(store, n_prompts=1)
    pushed = push_rankings(
        store, dataset=unique_name, workspace=unique_name, k=4, connection=connection
    )
    (record,) = connection.get_json(f"/api/v1/datasets/{pushed.dataset_id}/records")["items"]
    hook = register_webhook(connection, url=receiver.url)
    try:
        annotator = make_annotator(f"{unique_name}-hook", unique_name)

        def value(order):
            return {"ranking": {"value": [{"value": f"response_{n}", "rank": r} for r, n in order]}}

        answer = annotator.http.post(
            f"/api/v1/records/{record['id']}/responses",
            json={"status": "submitted", "values": value([(1, 1), (2, 2), (3, 3), (4, 4)])},
        )
        assert answer.status_code == 201, answer.text
        body, headers = _next_delivery(
            receiver, event="response.created", external_id=record["external_id"]
        )
        outcome = verify_and_ingest(store, body, headers, hook.secret)
        assert (outcome.action, outcome.problems) == ("created", [])
        assert verify_and_ingest(store, body, headers, hook.secret).action == "unchanged"
        with Session(store) as s:
            (ranking,) = s.exec(select(Ranking)).all()
            shown = json.loads(record["metadata"]["accord_response_ids"])
            assert ranking.shown_order == shown and ranking.judge == annotator.username
            assert [dict(zip(ranking.response_ids, ranking.ranks))[i] for i in shown] == [
                1,
                2,
                3,
                4,
            ]

        changed = annotator.http.put(
            f"/api/v1/responses/{answer.json()['id']}",
            json={"status": "submitted", "values": value([(1, 4), (2, 3), (3, 2), (4, 1)])},
        )
        assert changed.status_code == 200, changed.text
        body, headers = _next_delivery(
            receiver, event="response.updated", external_id=record["external_id"]
        )
        assert verify_and_ingest(store, body, headers, hook.secret).action == "updated"
        with Session(store) as s:
            ranking = s.get(Ranking, ranking.id)
            assert [dict(zip(ranking.response_ids, ranking.ranks))[i] for i in shown] == [
                4,
                3,
                2,
                1,
            ]

        assert annotator.http.delete(f"/api/v1/responses/{answer.json()['id']}").status_code == 200
        body, headers = _next_delivery(
            receiver, event="response.deleted", external_id=record["external_id"]
        )
        assert verify_and_ingest(store, body, headers, hook.secret).action == "withdrawn"
        with Session(store) as s:
            assert s.get(Ranking, ranking.id).status == "discarded"
            expanded = s.exec(select(Judgment).where(Judgment.ranking_id == ranking.id)).all()
            assert {j.status for j in expanded} == {"discarded"}
    finally:
        connection.http.delete(f"/api/v1/webhooks/{hook.id}")


def test_an_existing_dataset_of_another_layout_is_refused(cli, store, unique_name, connection):
    """A ranking dataset is not reused for another K, nor for pairs; the dataset is untouched."""
    from accord.feedback.argilla.push import ensure_dataset

    _seed(store)
    db = str(store.url)
    push = ("push", "--mode", "ranking", "--dataset", unique_name, "--workspace", unique_name)
    pushed = cli(*push, "--k", "4", "--db", db)
    refused = CliRunner().invoke(app, [*push, "--k", "3", "--db", db, "--json"])
    assert refused.exit_code != 0
    assert "not an accord ranking dataset of k=3 responses" in " ".join(refused.output.split())
    with pytest.raises(ValueError, match="is not an accord pair dataset \\(it lacks"):
        ensure_dataset(
            connection, name=unique_name, workspace=unique_name, settings_factory=lambda: None
        )
    items = connection.get_json(f"/api/v1/datasets/{pushed['dataset_id']}/records")["items"]
    assert len(items) == 3
