"""REST for routing and gold pairs: ``/api/gold`` (engineers write, annotators never read the
answers), the ``argilla_push`` job kind with priority and gold rate, snapshot jobs with
``min_gold_accuracy``."""

from __future__ import annotations

from .conftest import seed_store


def test_gold_add_and_list_by_role(client, as_role):
    ids = seed_store(client.app.state.engine)
    items = [
        {"pair_id": ids["pairs"][0], "answer": "b"},
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "Lyon."},
    ]
    made = client.post("/api/gold", json={"items": items}, headers=as_role("engineer"))
    assert made.status_code == 201, made.text
    assert (made.json()["created"], made.json()["new_pairs"]) == (2, 1)
    again = client.post("/api/gold", json={"items": items}, headers=as_role("engineer"))
    assert again.json()["unchanged"] == 2
    listed = client.get("/api/gold", headers=as_role("viewer")).json()
    assert listed["total"] == 2
    assert {g["answer"] for g in listed["items"] if g["pair_id"] == ids["pairs"][0]} == {"b"}
    assert client.get("/api/gold", headers=as_role("annotator")).status_code == 403
    assert (
        client.post("/api/gold", json={"items": items}, headers=as_role("viewer")).status_code
        == 403
    )


def test_gold_add_is_all_or_nothing_and_names_the_bad_item(client, as_role):
    ids = seed_store(client.app.state.engine)
    items = [
        {"prompt": "Q?", "chosen": "yes", "rejected": "no"},
        {"pair_id": ids["pairs"][0], "answer": "tie"},
    ]
    bad = client.post("/api/gold", json={"items": items}, headers=as_role("engineer"))
    assert bad.status_code == 422 and "item 2: field 'answer'" in bad.text
    assert client.get("/api/gold", headers=as_role("engineer")).json()["total"] == 0


def test_argilla_push_job_and_snapshot_min_gold_accuracy_are_validated(client, as_role):
    h = as_role("engineer")
    bad = client.post(
        "/api/jobs",
        json={
            "kind": "argilla_push",
            "config": {
                "dataset": "prefs",
                "priority": "loudest",
                "gold_rate": 1.0,
                "colour": "red",
            },
        },
        headers=h,
    )
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["detail"]} == {"priority", "gold_rate", "colour"}
    made = client.post(
        "/api/jobs",
        json={
            "kind": "argilla_push",
            "config": {"dataset": "prefs", "priority": "uncertainty", "gold_rate": 0.1},
        },
        headers=h,
    )
    assert made.status_code == 201 and made.json()["config"]["priority"] == "uncertainty"
    assert (
        client.post(
            "/api/jobs",
            json={"kind": "argilla_push", "config": {"dataset": "p"}},
            headers=as_role("viewer"),
        ).status_code
        == 403
    )

    too_high = client.post(
        "/api/snapshots",
        json={"name": "s-gold", "policy": "majority", "min_gold_accuracy": 1.5},
        headers=h,
    )
    assert too_high.status_code == 422
    queued = client.post(
        "/api/snapshots",
        json={"name": "s-gold", "policy": "majority", "min_gold_accuracy": 0.8},
        headers=h,
    )
    assert queued.status_code == 202 and queued.json()["config"]["min_gold_accuracy"] == 0.8
    plain = client.post("/api/snapshots", json={"name": "s-plain", "policy": "majority"}, headers=h)
    assert "min_gold_accuracy" not in plain.json()["config"]
