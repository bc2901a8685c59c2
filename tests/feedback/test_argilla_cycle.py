"""Push → two annotators answer on the real Argilla server → pull → judgments in the store."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlmodel import Session, select

from accord.feedback.argilla import pull_judgments, push_pairs
from accord.feedback.argilla.schema import to_canonical, to_shown
from accord.store.crud.judgments import judgment_history, upsert_judgment
from accord.store.models import Annotator, ArgillaRecord, Judgment, Pair, Response

from .conftest import CuttableProxy, records_by_pair, seed_pairs

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def _right_side(engine, pair_id: int) -> str:
    """Canonical side of the correct answer (the one in bold) of a seeded pair."""
    with Session(engine) as s:
        pair = s.get(Pair, pair_id)
        text_a = s.get(Response, pair.response_a_id).text
    return "a" if text_a.startswith("**") else "b"


def _human(engine, dataset: str) -> dict[tuple[int, str], Judgment]:
    with Session(engine) as s:
        rows = s.exec(select(Judgment).where(Judgment.source == f"argilla:{dataset}")).all()
    return {(j.pair_id, j.judge): j for j in rows}


def test_full_cycle_two_annotators(store, connection, make_annotator, unique_name, argilla_server):
    import argilla as rg
    from argilla._models import UserResponseModel

    pair_ids = seed_pairs(store, 6, tag="cycle")
    pushed = push_pairs(
        store, dataset=unique_name, workspace=unique_name, min_submitted=2, connection=connection
    )
    assert (pushed.selected, pushed.created, pushed.unchanged) == (6, 6, 0)
    with Session(store) as s:
        orders = {r.pair_id: r.shown_order for r in s.exec(select(ArgillaRecord)).all()}
    assert set(orders) == set(pair_ids) and set(orders.values()) == {"ab", "ba"}

    records = records_by_pair(connection, pushed.dataset_id)
    assert len(records) == 6
    for pid, record in records.items():  # what is shown matches the order kept in metadata
        assert record["metadata"]["shown_order"] == orders[pid]
        shown_right = "a" if record["fields"]["response_a"].startswith("**") else "b"
        assert to_canonical(shown_right, orders[pid]) == _right_side(store, pid)

    ann1 = make_annotator(f"{unique_name}-ann1", unique_name)
    ann2 = make_annotator(f"{unique_name}-ann2", unique_name)
    # Annotator 1 answers through the SDK, logged in with its own key: always the right one.
    sdk = rg.Argilla(api_url=argilla_server.url, api_key=ann1.api_key)
    for pid, record in records.items():
        label = to_shown(_right_side(store, pid), orders[pid])
        sdk.api.records.create_record_response(
            UUID(record["id"]),
            UserResponseModel(
                values={"preference": {"value": label}, "strength": {"value": 3}},
                status="submitted",
                user_id=UUID(ann1.user_id),
            ),
        )
    # Annotator 2 answers through REST: always "A", a rationale, and discards the last pair.
    responses2 = {}
    for pid in pair_ids[:-1]:
        responses2[pid] = ann2.submit(
            records[pid]["id"], "a", rationale="  first one reads better "
        )
    discarded = ann2.submit(records[pair_ids[-1]]["id"], None, status="discarded")
    assert discarded["status"] == "discarded"

    first = pull_judgments(store, dataset=unique_name, workspace=unique_name, connection=connection)
    assert (first.created, first.discarded, first.skipped, first.problems) == (12, 1, 0, [])
    judged = _human(store, unique_name)
    for pid in pair_ids:
        j1 = judged[(pid, ann1.username)]
        assert (j1.kind, j1.preferred, j1.strength, j1.status) == (
            "human",
            _right_side(store, pid),
            3,
            "submitted",
        )
        assert (
            j1.presentation_order == orders[pid]
            and j1.principle == ""
            and j1.constitution_hash == ""
        )
        assert j1.prob_a == (1.0 if j1.preferred == "a" else 0.0)
    for pid in pair_ids[:-1]:
        j2 = judged[(pid, ann2.username)]
        assert (
            j2.preferred == to_canonical("a", orders[pid])
            and j2.rationale == "first one reads better"
        )
        assert j2.meta["shown_label"] == "a" and j2.external_id == responses2[pid]["id"]
    j_disc = judged[(pair_ids[-1], ann2.username)]
    assert (j_disc.status, j_disc.preferred) == ("discarded", None)
    with Session(store) as s:
        annotators = {a.username: a for a in s.exec(select(Annotator)).all()}
    assert annotators[ann1.username].external_id == ann1.user_id
    assert annotators[ann2.username].source == "argilla"
    assert judged[(pair_ids[0], ann2.username)].annotator_id == annotators[ann2.username].id

    again = pull_judgments(store, dataset=unique_name, workspace=unique_name, connection=connection)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 12)
    assert len(_human(store, unique_name)) == 12

    # A changed answer updates the judgment and keeps the old value in history.
    changed_pid = pair_ids[0]
    ann2.change(responses2[changed_pid]["id"], "b")
    third = pull_judgments(store, dataset=unique_name, workspace=unique_name, connection=connection)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 11)
    j2 = _human(store, unique_name)[(changed_pid, ann2.username)]
    assert j2.preferred == to_canonical("b", orders[changed_pid])
    with Session(store) as s:
        history = judgment_history(s, judgment_id=j2.id)
    assert [h.preferred for h in history] == [to_canonical("a", orders[changed_pid])]

    # A deleted response withdraws the label: discarded, last label kept in history.
    ann2.delete(responses2[pair_ids[1]]["id"])
    fourth = pull_judgments(
        store, dataset=unique_name, workspace=unique_name, connection=connection
    )
    assert (fourth.withdrawn, fourth.created) == (1, 0)
    withdrawn = _human(store, unique_name)[(pair_ids[1], ann2.username)]
    assert (withdrawn.status, withdrawn.preferred, withdrawn.meta["withdrawn"]) == (
        "discarded",
        None,
        True,
    )
    assert len(_human(store, unique_name)) == 12


def test_push_is_idempotent_and_updates_in_place(store, connection, unique_name):
    pair_ids = seed_pairs(store, 3, tag="idem")
    first = push_pairs(store, dataset=unique_name, workspace=unique_name, connection=connection)
    second = push_pairs(store, dataset=unique_name, workspace=unique_name, connection=connection)
    assert (first.created, second.created, second.updated, second.unchanged) == (3, 0, 0, 3)
    # An AI judgment shown as a suggestion changes exactly that record, in place.
    with Session(store) as s:
        pair = s.get(Pair, pair_ids[0])
    from accord.store.db import session_scope

    with session_scope(store) as s:
        upsert_judgment(s, pair=pair, kind="ai", judge="tiny-judge v1", preferred="b", prob_a=0.2)
    third = push_pairs(
        store,
        dataset=unique_name,
        workspace=unique_name,
        with_suggestions=True,
        connection=connection,
    )
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    records = records_by_pair(connection, third.dataset_id)
    assert len(records) == 3
    with Session(store) as s:
        order = s.exec(
            select(ArgillaRecord.shown_order).where(ArgillaRecord.pair_id == pair_ids[0])
        ).one()
    suggestions = connection.get_json(f"/api/v1/records/{records[pair_ids[0]]['id']}/suggestions")[
        "items"
    ]
    assert [(x["value"], x["agent"], x["score"]) for x in suggestions] == [
        (to_shown("b", order), "tiny-judge v1", 0.8)
    ]
    # With explicit ids the labelled filter does not apply; pushing them again changes nothing.
    fourth = push_pairs(
        store,
        dataset=unique_name,
        workspace=unique_name,
        pair_ids=pair_ids,
        with_suggestions=True,
        connection=connection,
    )
    assert (fourth.selected, fourth.unchanged) == (3, 3)


def test_interrupted_push_resumes_without_duplicates(
    store, connection, unique_name, argilla_server
):
    from accord.feedback.argilla.client import ArgillaUnavailableError, connect

    pair_ids = seed_pairs(store, 6, tag="resume")
    proxy = CuttableProxy(int(argilla_server.url.rsplit(":", 1)[1]))
    flaky = connect(api_url=proxy.url, api_key=argilla_server.api_key, attempts=2, backoff=0.05)

    def outage_after_first_batch(done: int, total: int) -> None:
        proxy.cut()

    with pytest.raises(ArgillaUnavailableError, match="did not answer"):
        push_pairs(
            store,
            dataset=unique_name,
            workspace=unique_name,
            batch_size=2,
            connection=flaky,
            progress=outage_after_first_batch,
        )
    with Session(store) as s:
        states = {r.pair_id: r.status for r in s.exec(select(ArgillaRecord)).all()}
    assert sorted(states.values()) == ["pending", "pending", "pushed", "pushed"]

    # The next run (here selecting one other pair only) resends what was left pending.
    resumed = push_pairs(
        store,
        dataset=unique_name,
        workspace=unique_name,
        pair_ids=[pair_ids[5]],
        connection=connection,
    )
    assert (resumed.selected, resumed.resumed, resumed.created) == (1, 2, 3)
    with Session(store) as s:
        assert {r.status for r in s.exec(select(ArgillaRecord)).all()} == {"pushed"}
    # The full selection then sends only the pair the outage kept from being tried at all.
    finished = push_pairs(store, dataset=unique_name, workspace=unique_name, connection=connection)
    assert (finished.created, finished.unchanged) == (1, 5)
    assert len(records_by_pair(connection, finished.dataset_id)) == 6


def test_unknown_records_and_bad_answers_are_reported_not_fatal(
    store, connection, make_annotator, unique_name
):
    from accord.feedback.argilla.webhooks import ingest_webhook_event

    seed_pairs(store, 2, tag="bad")
    pushed = push_pairs(store, dataset=unique_name, workspace=unique_name, connection=connection)
    # A record accord never pushed (another tool wrote it into the same dataset).
    put = connection.http.put(
        f"/api/v1/datasets/{pushed.dataset_id}/records/bulk",
        json={
            "items": [
                {
                    "external_id": "foreign-1",
                    "fields": {"prompt": "p", "response_a": "x", "response_b": "y"},
                    "metadata": {"accord_pair_id": 999, "shown_order": "ab"},
                }
            ]
        },
    )
    assert put.status_code == 200, put.text
    annotator = make_annotator(f"{unique_name}-ann", unique_name)
    items = connection.get_json(f"/api/v1/datasets/{pushed.dataset_id}/records", limit=10)["items"]
    for record in items:
        annotator.submit(record["id"], "tie")
    result = pull_judgments(
        store, dataset=unique_name, workspace=unique_name, connection=connection
    )
    assert (result.created, result.skipped) == (2, 1)
    assert "foreign-1" in result.problems[0] and "unknown record" in result.problems[0]

    # A delivery without the preference answer, or naming no dataset: reported, skipped.
    ours = next(r for r in items if r["external_id"] != "foreign-1")
    payload = {
        "type": "response.updated",
        "data": {
            "id": "r1",
            "status": "submitted",
            "values": {"rationale": {"value": "x"}},
            "user": {"id": annotator.user_id, "username": annotator.username},
            "record": {
                "id": ours["id"],
                "external_id": ours["external_id"],
                "dataset": {"name": unique_name},
            },
        },
    }
    outcome = ingest_webhook_event(store, payload)
    assert outcome.action == "skipped" and "no preference answer" in outcome.problems[0]
    payload["data"]["record"]["dataset"] = {}
    assert ingest_webhook_event(store, payload).action == "skipped"
