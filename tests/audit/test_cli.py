"""``accord audit`` and ``accord audit queue`` through Typer's runner on a real SQLite store."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from accord.cli.audit import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_audit_json_html_and_tables(sqlite_audit_store, tmp_path):
    url = str(sqlite_audit_store["engine"].url)
    html = tmp_path / "reports" / "audit.html"
    result = invoke("--db", url, "--json", "--html", html, "--resamples", 50, "--seed", 3)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["pairs"] == 12 and report["config"]["n_resamples"] == 50
    assert html.read_text().count("data:image/png;base64,") == 6

    result = invoke("--db", url, "--snapshot", "snap", "--resamples", 0)
    assert result.exit_code == 0, result.output
    for title in (
        "Human–human agreement",
        "Human–AI agreement",
        "AI position consistency",
        "Annotators",
        "Length bias",
        "Reward models",
        "snapshot snap",
    ):
        assert title in result.output


def test_audit_errors(sqlite_audit_store):
    url = str(sqlite_audit_store["engine"].url)
    result = invoke("--db", url, "--snapshot", "missing")
    assert result.exit_code == 1 and "no snapshot named 'missing'" in result.output
    result = invoke("--db", url, "--job", 1, "--snapshot", "snap")
    assert result.exit_code == 2 and "one scope at a time" in result.output
    result = invoke("--db", url, "--confidence", 2)
    assert result.exit_code == 2 and "confidence_level" in result.output


def test_queue(sqlite_audit_store):
    url = str(sqlite_audit_store["engine"].url)
    result = invoke("queue", "--db", url, "--limit", 3, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert len(out["pairs"]) == 3 and out["pushed"] is None
    scores = [p["score"] for p in out["pairs"]]
    assert scores == sorted(scores, reverse=True)
    result = invoke("queue", "--db", url, "--snapshot", "snap")
    assert result.exit_code == 0 and "Disagreement queue · snapshot snap" in result.output


@pytest.mark.argilla
def test_queue_pushes_the_contested_pairs_to_argilla(
    sqlite_audit_store, argilla_server, monkeypatch
):
    from sqlmodel import Session, select

    from accord.store.models import ArgillaRecord

    monkeypatch.setenv("ARGILLA_API_URL", argilla_server.url)
    monkeypatch.setenv("ARGILLA_API_KEY", argilla_server.api_key)
    engine = sqlite_audit_store["engine"]
    dataset = f"adjudicate-{uuid.uuid4().hex[:8]}"
    result = invoke(
        "queue",
        "--db",
        str(engine.url),
        "--limit",
        3,
        "--push-dataset",
        dataset,
        "--workspace",
        "adjudication",
        "--json",
    )  # the server may hold several
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["pushed"]["selected"] == 3 and out["pushed"]["created"] == 3
    with Session(engine) as s:
        pushed = s.exec(select(ArgillaRecord.pair_id).where(ArgillaRecord.dataset == dataset)).all()
    assert sorted(pushed) == sorted(p["pair_id"] for p in out["pairs"])
