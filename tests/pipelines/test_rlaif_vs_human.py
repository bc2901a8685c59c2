"""rlaif-vs-human.yaml against a real Argilla server: the first run pushes the pairs and stops
for labels; two annotators answer (one through the SDK, one through REST, as the web UI does);
the second run pulls, audits human–human and human–AI agreement, trains one DPO policy per
label source and compares their win-rates under the same human-trained judge."""

from __future__ import annotations

import json
import uuid
from uuid import UUID

import httpx
import pytest
import yaml
from sqlmodel import Session, select

from accord.store.db import open_store
from accord.store.models import Judgment, Snapshot, TrainingRun

from .conftest import PIPELINES

pytestmark = [pytest.mark.argilla, pytest.mark.slow]
PASSWORD = "annotator-pass-1"


def _recipe_for(tmp_path, name: str):
    """The shipped recipe with this test's own dataset and workspace (the server is shared)."""
    recipe = yaml.safe_load((PIPELINES / "rlaif-vs-human.yaml").read_text())
    for step in recipe["steps"]:
        if step["kind"] in ("argilla_push", "argilla_pull"):
            step.update(dataset=name, workspace=name)
        if step["kind"] == "summary":
            step["argilla_dataset"] = name
    recipe["base_dir"] = str(PIPELINES)
    path = tmp_path / "rlaif-vs-human.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _longer(record: dict) -> str:
    fields = record["fields"]
    return "a" if len(fields["response_a"]) >= len(fields["response_b"]) else "b"


def test_rlaif_vs_human_with_two_annotators(recipe_runner, argilla_server, tmp_path):
    import argilla as rg
    from argilla._models import UserResponseModel

    from accord.feedback.argilla.client import connect
    from accord.feedback.argilla.pull import find_dataset
    from accord.feedback.argilla.users import create_user, sign_in

    name = f"rvh-{uuid.uuid4().hex[:8]}"
    path = _recipe_for(tmp_path, name)
    recipe_runner.env.update(
        ARGILLA_API_URL=argilla_server.url, ARGILLA_API_KEY=argilla_server.api_key
    )

    first = recipe_runner.run(path)
    assert first.returncode == 1, first.output[-5000:]
    assert f"0 of 12 pairs pushed to Argilla dataset {name!r}" in first.said
    assert "then rerun the recipe" in first.said
    counts_before = recipe_runner.row_counts()
    assert counts_before["training_run"] == 0 and counts_before["snapshot"] == 0

    connection = connect(api_url=argilla_server.url, api_key=argilla_server.api_key)
    users = []
    for who in ("ann1", "ann2"):
        info = create_user(connection, username=f"{name}-{who}", password=PASSWORD, workspace=name)
        users.append(
            (info, sign_in(argilla_server.url, username=f"{name}-{who}", password=PASSWORD))
        )
    dataset_id = find_dataset(connection, name=name, workspace=name)["id"]
    records = connection.get_json(f"/api/v1/datasets/{dataset_id}/records", limit=1000)["items"]
    assert len(records) == 12
    # Annotator 1 (SDK, own key) prefers the longer response; annotator 2 (REST) agrees except
    # on two records, so human–human agreement is measurable and below 1.
    (user1, key1), (_, key2) = users
    sdk = rg.Argilla(api_url=argilla_server.url, api_key=key1)
    with httpx.Client(
        base_url=argilla_server.url, headers={"X-Argilla-Api-Key": key2}, timeout=60
    ) as http:
        for i, record in enumerate(records):
            label = _longer(record)
            sdk.api.records.create_record_response(
                UUID(record["id"]),
                UserResponseModel(
                    values={"preference": {"value": label}},
                    status="submitted",
                    user_id=UUID(user1.id),
                ),
            )
            other = {"a": "b", "b": "a"}[label] if i < 2 else label
            answer = http.post(
                f"/api/v1/records/{record['id']}/responses",
                json={"status": "submitted", "values": {"preference": {"value": other}}},
            )
            assert answer.status_code == 201, answer.text

    second = recipe_runner.run(path)
    assert second.returncode == 0, second.output[-5000:]
    engine = open_store(recipe_runner.db_url)
    with Session(engine) as s:
        human = s.exec(select(Judgment).where(Judgment.kind == "human")).all()
        snaps = {x.policy: x for x in s.exec(select(Snapshot)).all()}
        runs = {r.name.rsplit("/", 1)[-1]: r for r in s.exec(select(TrainingRun)).all()}
    assert len(human) == 24 and {j.source for j in human} == {f"argilla:{name}"}
    assert set(snaps) == {"human-only", "ai-only"}
    assert snaps["human-only"].manifest["source_mix"] == {"human": 10}  # the 2 split votes are ties
    assert snaps["ai-only"].manifest["source_mix"]["ai"] == 12
    assert runs["human-reward-model"].snapshot_hash == snaps["human-only"].content_hash
    assert runs["dpo-human"].snapshot_hash == snaps["human-only"].content_hash
    assert runs["dpo-ai"].snapshot_hash == snaps["ai-only"].content_hash
    judge = runs["human-reward-model"].artifact_path
    for policy in ("dpo-human", "dpo-ai"):  # the same judge, the same held-out prompts
        assert runs[policy].metrics["eval_judge"] == judge
        assert 0.0 <= runs[policy].metrics["win_rate_vs_ref"] <= 1.0

    summary = json.loads(
        (recipe_runner.home / "reports" / "rlaif-vs-human" / "summary.json").read_text()
    )
    audit = summary["audits"][0]
    assert audit["human_human"]["agreement"]["value"] == pytest.approx(10 / 12)
    assert audit["human_ai"] and audit["human_ai"][0]["n"] > 0
    assert "how_to_label" not in summary
    assert "human–AI agreement" in second.said and "human–human α" in second.said
    # the generations and AI judgments of the first run were reused, not recomputed
    counts_after = recipe_runner.row_counts()
    assert counts_after["cacheentry"] == counts_before["cacheentry"]
    assert counts_after["response"] == counts_before["response"]
