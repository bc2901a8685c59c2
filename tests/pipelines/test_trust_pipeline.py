"""pipelines/trust.yaml against a real Argilla server (mechanics: the tiny offline model): the
first run pushes the pairs in a random order and stops for labels; an annotator labels 60 of
them; the second run calibrates the judge on those, certifies (or abstains), pushes the pairs
below the threshold to the escalation dataset, freezes the escalated snapshot and exports it
with a card that lays out the calibration and the escalation."""

from __future__ import annotations

import uuid

import httpx
import pytest
import yaml
from sqlmodel import Session, select

from accord.store.db import open_store
from accord.store.models import Calibration, Judgment, Snapshot

from .conftest import PIPELINES, tiny_variant

pytestmark = [pytest.mark.argilla, pytest.mark.slow]
PASSWORD = "annotator-pass-1"


def _recipe_for(tmp_path, name: str):
    """The shipped recipe on the tiny model, with this test's own datasets and workspace."""
    path = tiny_variant(PIPELINES / "trust.yaml", tmp_path)
    recipe = yaml.safe_load(path.read_text())
    for step in recipe["steps"]:
        if step["kind"] in ("argilla_push", "argilla_pull"):
            step.update(dataset=name, workspace=name)
        if step["kind"] == "escalate":
            step.update(judge="accord/tiny", push_dataset=f"{name}-esc", workspace=name)
        if step["kind"] == "calibrate":
            # The tiny model's labels are noise, possibly anti-correlated with these labels:
            # a temperature cannot fit that, Platt can (mechanics only).
            step.update(judge="accord/tiny", method="platt")
        if step["kind"] == "export":
            step["out_dir"] = str(tmp_path / "export")
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_trust_recipe_calibrates_certifies_and_escalates(recipe_runner, argilla_server, tmp_path):
    from accord.feedback.argilla.client import connect
    from accord.feedback.argilla.pull import find_dataset
    from accord.feedback.argilla.users import create_user, sign_in

    name = f"trust-{uuid.uuid4().hex[:8]}"
    path = _recipe_for(tmp_path, name)
    recipe_runner.env.update(
        ARGILLA_API_URL=argilla_server.url, ARGILLA_API_KEY=argilla_server.api_key
    )
    first = recipe_runner.run(path)
    assert first.returncode == 1, first.output[-5000:]
    assert "then rerun the recipe" in first.said

    connection = connect(api_url=argilla_server.url, api_key=argilla_server.api_key)
    create_user(connection, username=f"{name}-ann", password=PASSWORD, workspace=name)
    key = sign_in(argilla_server.url, username=f"{name}-ann", password=PASSWORD)
    dataset_id = find_dataset(connection, name=name, workspace=name)["id"]
    records = connection.get_json(f"/api/v1/datasets/{dataset_id}/records", limit=1000)["items"]
    assert len(records) >= 60
    with httpx.Client(
        base_url=argilla_server.url, headers={"X-Argilla-Api-Key": key}, timeout=60
    ) as http:
        for record in records[:60]:
            fields = record["fields"]
            label = "a" if len(fields["response_a"]) >= len(fields["response_b"]) else "b"
            answer = http.post(
                f"/api/v1/records/{record['id']}/responses",
                json={"status": "submitted", "values": {"preference": {"value": label}}},
            )
            assert answer.status_code == 201, answer.text

    second = recipe_runner.run(path)
    assert second.returncode == 0, second.output[-5000:]
    engine = open_store(recipe_runner.db_url)
    with Session(engine) as s:
        assert len(s.exec(select(Judgment).where(Judgment.kind == "human")).all()) == 60
        (calibration,) = s.exec(select(Calibration)).all()
        (snap,) = s.exec(select(Snapshot)).all()
    assert calibration.judge == "accord/tiny" and calibration.n <= 60
    assert snap.policy == "escalate" and snap.params["calibration"] == calibration.id
    escalation = snap.manifest["escalation"]
    assert escalation["target"] == 0.8 and escalation["ai_only_pairs"] == len(records) - 60
    card = (tmp_path / "export" / "README.md").read_text()
    assert f"calibration {calibration.id} (version 1, platt" in card
    assert "≥ 80% with probability ≥ 90%" in card
    escalated = escalation["ai_only_pairs"] - escalation["ai_only_pairs_kept"]
    if escalated:
        esc_id = find_dataset(connection, name=f"{name}-esc", workspace=name)["id"]
        pushed = connection.get_json(f"/api/v1/datasets/{esc_id}/records", limit=1000)["items"]
        assert len(pushed) == escalated
