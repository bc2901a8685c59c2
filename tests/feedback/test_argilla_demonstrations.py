"""``accord argilla push --mode demonstration`` → two annotators write responses through the
REST API the web UI uses → ``pull --mode demonstration`` → human demonstrations (annotator
identity, source, Argilla answer id), idempotently; an edited answer becomes a new revision, a
discarded or deleted one is withdrawn, an empty one is refused and counted; on the real Argilla
server. Webhook deliveries take the same path."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.cli.argilla import app
from accord.store.crud.demonstrations import demonstrations_in_force
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import session_scope
from accord.store.models import Annotator, Prompt, Response

from .test_argilla_webhooks import receiver  # noqa: F401  (the webhook endpoint fixture)

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

QUESTIONS = ["What is the boiling point of water at sea level?", "Name a prime number.", "Hi!"]


def _seed(engine) -> None:
    with session_scope(engine) as s:
        for i, text in enumerate(QUESTIONS):
            p = upsert_prompt(s, text=text, source="demo-test")
            if i == 0:  # a model answer, shown as a draft with --draft
                upsert_response(s, prompt=p, text="Water boils at 90 degrees.", model_id="m")
        upsert_prompt(s, text="Not selected: another source.", source="elsewhere")


@pytest.fixture
def cli(argilla_server, monkeypatch):
    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> dict:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == code, result.output
        return json.loads(result.output) if code == 0 else {"output": result.output}

    return run


def _records(connection, dataset_id: str) -> dict[str, dict]:
    items = connection.get_json(f"/api/v1/datasets/{dataset_id}/records", limit=1000)["items"]
    return {r["fields"]["prompt"]: r for r in items}


def _answer(annotator, record_id: str, text: str, status: str = "submitted") -> dict:
    answer = annotator.http.post(
        f"/api/v1/records/{record_id}/responses",
        json={"status": status, "values": {"demonstration": {"value": text}}},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_two_annotators_write_demonstrations(cli, store, unique_name, make_annotator, connection):
    _seed(store)
    db = str(store.url)
    push = ("push", "--mode", "demonstration", "--dataset", unique_name, "--db", db)
    pushed = cli(
        *push,
        "--workspace",
        unique_name,
        "--prompt-source",
        "demo-test",
        "--min-submitted",
        "2",
        "--constitution",
        "harmlessness",
        "--draft",
    )
    assert (pushed["selected"], pushed["sent"], pushed["with_draft"]) == (3, 3, 1)
    again = cli(*push, "--workspace", unique_name, "--prompt-source", "demo-test", "--draft")
    assert again["sent"] == 3
    records = _records(connection, pushed["dataset_id"])
    assert sorted(records) == sorted(QUESTIONS)  # pushing again updated the same records
    questions = connection.get_json(f"/api/v1/datasets/{pushed['dataset_id']}/questions")
    assert [(q["name"], q["settings"]["type"]) for q in questions["items"]] == [
        ("demonstration", "text")
    ]
    dataset = connection.get_json(f"/api/v1/datasets/{pushed['dataset_id']}")
    assert "harmlessness" in dataset["guidelines"]
    assert records[QUESTIONS[0]]["fields"]["draft"] == "Water boils at 90 degrees."
    # the layout is checked: the same name without a draft field is another dataset
    refused = cli(*push, "--workspace", unique_name, code=1)["output"]
    assert "not an accord demonstration dataset" in " ".join(refused.split())

    ann1 = make_annotator(f"{unique_name}-a1", unique_name)
    ann2 = make_annotator(f"{unique_name}-a2", unique_name)
    first = {}
    for n, question in enumerate(QUESTIONS):
        rid = records[question]["id"]
        first[question] = _answer(ann1, rid, f"Answer {n} by one.")
        if n < 2:
            _answer(ann2, rid, f"Answer {n} by two.")
        else:
            # Argilla keeps white space as an answer: accord refuses it
            _answer(ann2, rid, "   \n ")

    pulled = cli("pull", "--mode", "demonstration", "--dataset", unique_name, "--db", db)
    assert (pulled["records"], pulled["responses"], pulled["created"]) == (3, 6, 5)
    assert pulled["empty"] == 1 and "empty" in pulled["problems"][0]
    with Session(store) as s:
        demos = s.exec(select(Response).where(Response.role == "demonstration")).all()
        annotators = {a.username: a for a in s.exec(select(Annotator)).all()}
        assert len(demos) == 5
        for d in demos:
            author = ann1 if d.text.endswith("by one.") else ann2
            assert d.model_id == f"human:{author.username}" and d.backend == "human"
            assert d.annotator_id == annotators[author.username].id
            assert d.source == f"argilla:{unique_name}" and d.parent_id is None
            prompt = s.get(Prompt, d.prompt_id)
            assert d.text.startswith(f"Answer {QUESTIONS.index(prompt.text)} ")
        assert annotators[ann1.username].external_id == ann1.user_id
        by_ann1 = {s.get(Prompt, d.prompt_id).text: d for d in demos if d.text.endswith("one.")}
        assert by_ann1[QUESTIONS[0]].external_id == first[QUESTIONS[0]]["id"]
    again = cli("pull", "--mode", "demonstration", "--dataset", unique_name, "--db", db)
    assert (again["created"], again["unchanged"], again["empty"]) == (0, 5, 1)

    # an edit is a new revision whose parent is the old answer; the old one stays
    edited = ann1.http.put(
        f"/api/v1/responses/{first[QUESTIONS[0]]['id']}",
        json={
            "status": "submitted",
            "values": {"demonstration": {"value": "Water boils at 100 °C at sea level."}},
        },
    )
    assert edited.status_code == 200, edited.text
    # a deleted answer is withdrawn
    assert ann1.http.delete(f"/api/v1/responses/{first[QUESTIONS[1]]['id']}").status_code == 200
    pulled = cli("pull", "--mode", "demonstration", "--dataset", unique_name, "--db", db)
    assert (pulled["revised"], pulled["withdrawn"], pulled["created"]) == (1, 1, 0)
    with Session(store) as s:
        old = by_ann1[QUESTIONS[0]]
        new = s.exec(select(Response).where(Response.parent_id == old.id)).one()
        assert new.text == "Water boils at 100 °C at sea level." and new.role == "demonstration"
        assert s.get(Response, old.id).text == "Answer 0 by one."
        assert s.get(Response, by_ann1[QUESTIONS[1]].id).withdrawn_at is not None
        in_force = {d.text for d in demonstrations_in_force(s)}
    assert in_force == {
        "Water boils at 100 °C at sea level.",
        "Answer 0 by two.",
        "Answer 1 by two.",
        "Answer 2 by one.",
    }
    final = cli("pull", "--mode", "demonstration", "--dataset", unique_name, "--db", db)
    assert (final["created"], final["revised"], final["withdrawn"], final["unchanged"]) == (
        0,
        0,
        0,
        4,
    )


def test_webhooks_bring_demonstrations_back(
    store,
    connection,
    make_annotator,
    unique_name,
    receiver,  # noqa: F811
):
    from accord.feedback.argilla.demonstrations import push_demonstrations
    from accord.feedback.argilla.webhooks import register_webhook, verify_and_ingest

    from .test_argilla_webhooks import _next_delivery

    _seed(store)
    pushed = push_demonstrations(
        store, dataset=unique_name, workspace=unique_name, prompt_ids=[1], connection=connection
    )
    (record,) = connection.get_json(f"/api/v1/datasets/{pushed.dataset_id}/records")["items"]
    hook = register_webhook(connection, url=receiver.url)
    try:
        annotator = make_annotator(f"{unique_name}-hook", unique_name)
        answer = _answer(annotator, record["id"], "At 100 °C.")
        body, headers = _next_delivery(
            receiver, event="response.created", external_id=record["external_id"]
        )
        outcome = verify_and_ingest(store, body, headers, hook.secret)
        assert (outcome.action, outcome.problems) == ("created", [])
        assert verify_and_ingest(store, body, headers, hook.secret).action == "unchanged"
        changed = annotator.http.put(
            f"/api/v1/responses/{answer['id']}",
            json={"status": "submitted", "values": {"demonstration": {"value": "100 °C."}}},
        )
        assert changed.status_code == 200, changed.text
        body, headers = _next_delivery(
            receiver, event="response.updated", external_id=record["external_id"]
        )
        assert verify_and_ingest(store, body, headers, hook.secret).action == "revised"
        assert annotator.http.delete(f"/api/v1/responses/{answer['id']}").status_code == 200
        body, headers = _next_delivery(
            receiver, event="response.deleted", external_id=record["external_id"]
        )
        assert verify_and_ingest(store, body, headers, hook.secret).action == "withdrawn"
        with Session(store) as s:
            rows = s.exec(select(Response).where(Response.role == "demonstration")).all()
            assert [r.text for r in rows] == ["At 100 °C.", "100 °C."]
            assert rows[1].parent_id == rows[0].id and rows[1].withdrawn_at is not None
            assert demonstrations_in_force(s) == []
    finally:
        connection.http.delete(f"/api/v1/webhooks/{hook.id}")
