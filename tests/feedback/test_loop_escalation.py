"""Escalation inside a loop round, on the real Argilla server: the round's uncertain kept pairs
are pushed, a scripted annotator labels them through the REST API the web UI uses while the
loop waits, and the round's snapshot (human-over-ai) is built from the human labels; a rerun
pushes nothing and keeps the frozen snapshot. Without waiting, the round goes on at once with
the AI labels."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlmodel import Session, select

from accord.store.models import Judgment, Snapshot

from ..pipelines.test_loop import RECIPE
from .conftest import records_by_pair

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def _recipe(dataset: str, **escalate) -> dict:
    recipe = json.loads(json.dumps(RECIPE))
    escalate.setdefault("threshold", 0.9)  # the tiny judge is a coin flip: every pair is below
    recipe["steps"][1].update(
        {
            "rounds": 1,
            "snapshot_policy": "human-over-ai",
            "escalate": {"dataset": dataset, "workspace": dataset, **escalate},
        }
    )
    return recipe


@pytest.fixture
def argilla_env(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)


def test_loop_waits_for_human_labels_and_trains_on_them(
    argilla_env, store, unique_name, connection, make_annotator
):
    from accord.feedback.argilla.pull import find_dataset
    from accord.jobs import run_recipe

    recipe = _recipe(unique_name, wait=True, timeout=600, poll=1)
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = run_recipe(store, recipe, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    records: dict[int, dict] = {}
    deadline = time.monotonic() + 600
    while thread.is_alive() and time.monotonic() < deadline and len(records) < 4:
        try:
            remote = find_dataset(connection, name=unique_name, workspace=unique_name)
            records = records_by_pair(connection, remote["id"])
        except Exception:  # noqa: BLE001 - not pushed yet
            records = {}
        time.sleep(0.5)
    assert "error" not in outcome, outcome.get("error")
    assert len(records) == 4, "the loop did not push its 4 kept pairs"
    time.sleep(2)
    assert thread.is_alive()  # still waiting for the labels
    annotator = make_annotator(f"{unique_name}-ann", unique_name)
    for record in records.values():
        annotator.submit(record["id"], "a", rationale="the first answer reads better")
    thread.join(timeout=600)
    assert not thread.is_alive() and "error" not in outcome, outcome.get("error")
    [round1] = outcome["result"].steps["loop"]["rounds"]
    escalation = round1["escalation"]
    assert escalation["escalated"] == escalation["labelled"] == escalation["pushed"] == 4
    assert sorted(escalation["pair_ids"]) == sorted(records)
    assert escalation["wait"] is True and not escalation.get("timed_out")
    with Session(store) as s:
        humans = s.exec(
            select(Judgment).where(Judgment.kind == "human", Judgment.pair_id.in_(list(records)))
        ).all()
        snapshot = s.exec(select(Snapshot).where(Snapshot.name == "loopy-round-1")).one()
    assert {j.judge for j in humans} == {annotator.username} and len(humans) == 4
    assert snapshot.manifest["source_mix"] == {"human": 4}  # the snapshot took the human labels

    again = run_recipe(store, recipe, progress=False)
    [rerun] = again.steps["loop"]["rounds"]
    assert rerun["escalation"]["frozen"] is True and "pushed" not in rerun["escalation"]
    assert rerun["escalation"]["labelled"] == 4 and rerun["trained"] is False
    assert rerun["snapshot_hash"] == round1["snapshot_hash"]


def test_loop_proceeds_with_the_labels_there_are(argilla_env, store, unique_name, connection):
    """``target`` with no human label of the judge in the store: nothing is certified, so the
    kept pairs are escalated (at most ``limit``), and the round goes on without waiting."""
    from accord.feedback.argilla.pull import find_dataset
    from accord.jobs import run_recipe

    recipe = _recipe(unique_name, threshold=None, target=0.9, wait=False, limit=3)
    result = run_recipe(store, recipe, progress=False)
    [round1] = result.steps["loop"]["rounds"]
    escalation = round1["escalation"]
    assert (escalation["escalated"], escalation["pushed"], escalation["labelled"]) == (3, 3, 0)
    assert escalation["threshold"] is None and "human label" in escalation["uncertified"]
    remote = find_dataset(connection, name=unique_name, workspace=unique_name)
    assert sorted(records_by_pair(connection, remote["id"])) == sorted(escalation["pair_ids"])
    with Session(store) as s:
        snapshot = s.exec(select(Snapshot).where(Snapshot.name == "loopy-round-1")).one()
    assert snapshot.manifest["source_mix"] == {"ai": 4}
