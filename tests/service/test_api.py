"""The REST API on a real store: in-memory SQLite and PostgreSQL (``store_engine``)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC

import pytest

from .conftest import seed_store


def test_health_reports_versions_and_database(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["versions"]["accord"]
    assert body["database"]["status"] == "ok" and body["database"]["up_to_date"] is True
    assert body["database"]["dialect"] == client.app.state.engine.dialect.name


def test_pages_have_totals_offsets_and_bounds(client, as_role, seeded):
    page = client.get("/api/prompts?limit=2", headers=as_role("viewer")).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["next_offset"] == 2
    last = client.get("/api/prompts?limit=2&offset=2", headers=as_role("viewer")).json()
    assert len(last["items"]) == 1 and last["next_offset"] is None
    assert {p["id"] for p in page["items"] + last["items"]} == set(seeded["prompts"])
    too_big = client.get("/api/prompts?limit=51", headers=as_role("viewer"))
    assert too_big.status_code == 422 and "largest page, 50" in too_big.json()["detail"]
    assert client.get("/api/prompts?limit=0", headers=as_role("viewer")).status_code == 422
    assert client.get("/api/prompts?offset=-1", headers=as_role("viewer")).status_code == 422


def test_filters(client, as_role, seeded):
    h = as_role("annotator")
    assert client.get("/api/prompts?source=seed", headers=h).json()["total"] == 2
    assert client.get("/api/responses?role=revision", headers=h).json()["total"] == 3
    assert client.get("/api/responses?model_id=m2", headers=h).json()["total"] == 3
    assert client.get("/api/judgments?kind=human", headers=h).json()["total"] == 3
    assert client.get("/api/judgments?judge=judge-model", headers=h).json()["total"] == 3
    assert client.get("/api/judgments?principle=helpful", headers=h).json()["total"] == 3
    assert client.get("/api/judgments?annotator=nobody", headers=h).json()["total"] == 0
    assert client.get("/api/judgments?kind=robot", headers=h).status_code == 422
    pair_id = seeded["pairs"][0]
    assert client.get(f"/api/judgments?pair_id={pair_id}", headers=h).json()["total"] == 2


def test_lineage_and_pair_detail(client, as_role, seeded):
    h = as_role("annotator")
    revision = client.get("/api/responses?role=revision&limit=1", headers=h).json()["items"][0]
    chain = client.get(f"/api/responses/{revision['id']}/lineage", headers=h).json()
    assert [r["role"] for r in chain] == ["initial", "revision"]
    assert chain[1]["parent_id"] == chain[0]["id"]
    pair = client.get(f"/api/pairs/{seeded['pairs'][0]}", headers=h).json()
    assert pair["prompt"]["text"] == "Question 0?"
    assert {pair["response_a"]["text"], pair["response_b"]["text"]} == {"answer 0 x", "answer 0 y"}
    assert client.get("/api/pairs/999999", headers=h).status_code == 404


def test_annotator_submits_and_changes_a_label_with_history(client, as_role, seeded):
    h = as_role("annotator")
    pair_id = seeded["pairs"][1]
    first = client.post(
        "/api/judgments",
        json={"pair_id": pair_id, "preferred": "a", "presentation_order": "ba"},
        headers=h,
    )
    assert first.status_code == 201 and first.json()["outcome"] == "created"
    judgment = first.json()["judgment"]
    assert judgment["kind"] == "human" and judgment["judge"] == "annotator-user"
    assert judgment["annotator_id"] is not None
    same = client.post(
        "/api/judgments",
        json={"pair_id": pair_id, "preferred": "a", "presentation_order": "ba"},
        headers=h,
    )
    assert same.json()["outcome"] == "unchanged"
    changed = client.post(
        "/api/judgments",
        json={
            "pair_id": pair_id,
            "preferred": "b",
            "presentation_order": "ba",
            "rationale": "B is shorter",
        },
        headers=h,
    )
    assert changed.json()["outcome"] == "updated"
    history = client.get(f"/api/judgments/{judgment['id']}/history", headers=h).json()
    assert [r["preferred"] for r in history] == ["a"]
    mine = client.get("/api/judgments?annotator=annotator-user", headers=h).json()
    assert mine["total"] == 1 and mine["items"][0]["preferred"] == "b"


def test_judgment_input_is_checked(client, as_role, seeded):
    h = as_role("annotator")
    pair_id = seeded["pairs"][0]
    assert (
        client.post(
            "/api/judgments", json={"pair_id": 999999, "preferred": "a"}, headers=h
        ).status_code
        == 404
    )
    bad = client.post("/api/judgments", json={"pair_id": pair_id, "preferred": "c"}, headers=h)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "preferred"
    long = client.post(
        "/api/judgments",
        json={"pair_id": pair_id, "preferred": "a", "rationale": "x" * 5001},
        headers=h,
    )
    assert long.status_code == 422 and "rationale is 5001 characters" in long.json()["detail"]


def test_body_size_limit(client, as_role):
    h = as_role("engineer")
    big = {"text": "x" * 250_000}
    response = client.post("/api/prompts", json=big, headers=h)
    assert response.status_code == 413 and "200000 bytes" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(30):
            yield b" " * 10_000

    streamed = client.post(
        "/api/prompts", content=chunks(), headers={**h, "Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


def test_prompt_text_limit_and_add(client, as_role):
    h = as_role("engineer")
    too_long = client.post("/api/prompts", json={"text": "y" * 5001}, headers=h)
    assert too_long.status_code == 422 and "text is 5001 characters" in too_long.json()["detail"]
    assert client.post("/api/prompts", json={"text": "  "}, headers=h).status_code == 422
    made = client.post("/api/prompts", json={"text": "Hello?", "source": "api"}, headers=h)
    again = client.post("/api/prompts", json={"text": "Hello?"}, headers=h)
    assert made.status_code == 201 and made.json()["id"] == again.json()["id"]
    bad_messages = client.post(
        "/api/prompts", json={"messages": [{"role": "user", "content": 3}]}, headers=h
    )
    assert bad_messages.status_code == 422 and "messages[0]" in bad_messages.json()["detail"]


def test_users_crud_token_shown_once(client, as_role):
    h = as_role("admin")
    made = client.post("/api/users", json={"name": "bob", "role": "viewer"}, headers=h)
    assert made.status_code == 201
    token, user = made.json()["token"], made.json()["user"]
    assert "token" not in user and "token_hash" not in user
    assert (
        client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["name"] == "bob"
    )
    assert (
        client.post("/api/users", json={"name": "bob", "role": "viewer"}, headers=h).status_code
        == 409
    )
    assert (
        client.post("/api/users", json={"name": "b o b", "role": "viewer"}, headers=h).status_code
        == 422
    )
    assert (
        client.post("/api/users", json={"name": "carl", "role": "root"}, headers=h).status_code
        == 422
    )
    listed = client.get("/api/users?role=viewer", headers=h).json()
    assert {u["name"] for u in listed["items"]} == {"bob", "viewer-user"}
    rotated = client.post(f"/api/users/{user['id']}/token", headers=h).json()["token"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {rotated}"}).status_code == 200
    promoted = client.patch(f"/api/users/{user['id']}", json={"role": "engineer"}, headers=h)
    assert promoted.json()["role"] == "engineer"


def test_jobs_submit_validate_cancel_retry(client, as_role):
    h = as_role("engineer")
    bad = client.post(
        "/api/jobs", json={"kind": "snapshot", "config": {"policy": "coin-flip"}}, headers=h
    )
    assert bad.status_code == 422
    fields = {p["field"] for p in bad.json()["detail"]}
    assert fields == {"name", "policy"}
    unknown = client.post("/api/jobs", json={"kind": "teleport"}, headers=h)
    assert unknown.status_code == 422 and "unknown job kind" in unknown.text
    recipe = client.post(
        "/api/jobs", json={"kind": "recipe", "config": {"recipe": "../etc/passwd"}}, headers=h
    )
    assert recipe.status_code == 422 and "bundled" in recipe.text
    made = client.post(
        "/api/jobs",
        json={
            "kind": "snapshot",
            "name": "nightly",
            "config": {"name": "s-nightly", "policy": "majority"},
        },
        headers=h,
    )
    assert made.status_code == 201
    job = made.json()
    assert job["status"] == "queued" and job["config"]["test_fraction"] == 0.1
    assert client.get("/api/jobs?status=queued", headers=h).json()["total"] == 1
    assert client.get("/api/jobs?kind=recipe", headers=h).json()["total"] == 0
    progress = client.get(f"/api/jobs/{job['id']}/progress", headers=h).json()
    assert progress["status"] == "queued" and progress["fraction"] is None
    cancelled = client.post(f"/api/jobs/{job['id']}/cancel", headers=h)
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/jobs/{job['id']}/cancel", headers=h).status_code == 409
    retried = client.post(f"/api/jobs/{job['id']}/retry", headers=h)
    assert retried.json()["status"] == "queued" and retried.json()["cancel_requested"] is False
    assert client.post(f"/api/jobs/{job['id']}/retry", headers=h).status_code == 409


def test_recipe_job_accepts_a_document_and_bundled_names(client, as_role):
    h = as_role("engineer")
    doc = {"name": "tiny", "steps": [{"kind": "import_prompts", "bundled": "quickstart"}]}
    assert (
        client.post(
            "/api/jobs", json={"kind": "recipe", "config": {"recipe": doc}}, headers=h
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/jobs", json={"kind": "recipe", "config": {"recipe": "quickstart"}}, headers=h
        ).status_code
        == 201
    )
    bad = client.post(
        "/api/jobs",
        json={
            "kind": "recipe",
            "config": {"recipe": {"name": "x", "steps": [{"kind": "levitate"}]}},
        },
        headers=h,
    )
    assert bad.status_code == 422 and "steps[0].kind" in bad.text


def test_progress_stream_ends_with_the_job(client, as_role):
    from accord.store.crud.jobs import create_job, finish_job, set_progress
    from accord.store.db import session_scope

    with session_scope(client.app.state.engine) as s:
        job = create_job(s, kind="snapshot", name="done", config={})
        set_progress(s, job=job, done=3, total=4, message="almost")
        finish_job(s, job=job, status="succeeded", result={"ok": True})
    with client.stream("GET", f"/api/jobs/{job.id}/events", headers=as_role("viewer")) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = [block for block in text.split("\n\n") if block.strip()]
    assert events[0].startswith("event: progress")
    data = json.loads(events[0].split("data: ", 1)[1])
    assert (data["done"], data["total"], data["status"]) == (3, 4, "succeeded")
    assert events[-1].startswith("event: end")


def _make_snapshot(engine, name):
    from accord.snapshots import create_snapshot

    return create_snapshot(engine, name=name, policy="human-over-ai", test_fraction=0.34, seed=1)


def test_snapshots_list_show_verify_diff_export(client, as_role, seeded):
    engine = client.app.state.engine
    _make_snapshot(engine, "snap-a")
    seed_store(engine, prompts=5)  # two more pairs
    _make_snapshot(engine, "snap-b")
    h = as_role("viewer")
    listed = client.get("/api/snapshots", headers=h).json()
    assert [s["name"] for s in listed["items"]] == ["snap-b", "snap-a"]
    snap = client.get("/api/snapshots/snap-a", headers=h).json()
    assert snap["n_train"] + snap["n_test"] == 3 and snap["manifest"]
    examples = client.get("/api/snapshots/snap-b/examples?limit=2", headers=h).json()
    assert examples["total"] == 5 and len(examples["items"]) == 2
    verify = client.get("/api/snapshots/snap-a/verify", headers=h).json()
    assert verify["ok"] is True and verify["checked"] == 3
    diff = client.get("/api/snapshots/snap-a/diff/snap-b", headers=h).json()
    assert json.dumps(diff)  # plain JSON
    assert client.get("/api/snapshots/nope/diff/snap-b", headers=h).status_code == 404
    export = client.get("/api/snapshots/snap-a/export?fmt=trl", headers=h)
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(export.content)).namelist()
    assert "snap-a/manifest.json" in names and "snap-a/train.jsonl" in names
    dup = client.post(
        "/api/snapshots", json={"name": "snap-a", "policy": "majority"}, headers=as_role("engineer")
    )
    assert dup.status_code == 409


def test_runs_and_metrics(client, as_role):
    from accord.store.db import session_scope
    from accord.store.models import RunMetric, TrainingRun

    with session_scope(client.app.state.engine) as s:
        run = TrainingRun(name="rm-1", kind="rm", status="succeeded", metrics={"accuracy": 0.7})
        s.add(run)
        s.flush()
        for step in range(1, 4):
            s.add(RunMetric(run_id=run.id, step=step, values={"loss": 1.0 / step}))
    h = as_role("engineer")
    page = client.get("/api/runs?kind=rm", headers=h).json()
    assert page["total"] == 1 and page["items"][0]["name"] == "rm-1"
    metrics = client.get(f"/api/runs/{run.id}/metrics", headers=h).json()
    assert [m["step"] for m in metrics] == [1, 2, 3]
    assert metrics[-1]["values"]["loss"] == pytest.approx(1 / 3)
    assert client.get("/api/runs/999999", headers=h).status_code == 404


def test_agreement_summary(client, as_role, seeded):
    summary = client.get("/api/audit/summary", headers=as_role("annotator")).json()
    assert summary["judgments"] == 6 and summary["pairs"] == 3
    (judge,) = summary["ai_judges"]
    assert judge["judge"] == "judge-model" and judge["with_human_reference"] == 3
    # the AI says "a" on every pair; the human said a, b, a
    assert judge["agreement_with_humans"] == pytest.approx(2 / 3, abs=1e-4)


def test_audit_reports_are_served_from_the_reports_folder(client, as_role, settings):
    folder = settings.reports_dir / "store-audit"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps({"alpha": 0.5}))
    (folder / "agreement.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "secret.txt").write_text("not served")
    h = as_role("viewer")
    (report,) = client.get("/api/audit/reports", headers=h).json()
    assert report["summary"] == {"alpha": 0.5} and report["plots"] == ["agreement.svg"]
    svg = client.get("/api/audit/reports/store-audit/files/agreement.svg", headers=h)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg")
    assert (
        client.get("/api/audit/reports/store-audit/files/secret.txt", headers=h).status_code == 404
    )
    assert (
        client.get("/api/audit/reports/store-audit/files/../../x.json", headers=h).status_code
        == 404
    )


def test_argilla_webhook_signature(client, settings):
    from standardwebhooks.webhooks import Webhook

    assert client.post("/api/argilla/webhook", content=b"{}").status_code == 503
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    settings.webhook_secret = secret
    body = json.dumps({"type": "dataset.created", "version": 1, "data": {}})
    from datetime import datetime

    now = datetime.now(UTC)
    signature = Webhook(secret).sign("msg_1", now, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    ok = client.post("/api/argilla/webhook", content=body, headers=headers)
    assert ok.status_code == 200 and ok.json()["action"] == "ignored"
    forged = client.post(
        "/api/argilla/webhook", content=body.replace("created", "deleted"), headers=headers
    )
    assert forged.status_code == 401
