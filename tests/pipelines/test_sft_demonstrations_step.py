"""The ``train_sft`` step with ``demonstrations: auto`` (the instructgpt recipe): chosen
responses while the store has no human demonstrations, then the demonstrations annotators
wrote, frozen into ``<recipe>-demonstrations``; the summary says which; a rerun reuses the run.
``demonstrations: required`` fails clearly on a store without any."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from accord.store.db import open_store
from accord.store.models import Snapshot, TrainingRun
from tests.fixtures.demonstrations import seed_demonstrations

pytestmark = pytest.mark.slow

RECIPE = """\
name: demo-sft
seed: 0
steps:
  - {kind: import_preferences, bundled: sample}
  - {kind: snapshot, policy: human-only, test_fraction: 0.2}
  - {kind: train_sft, name: sft, demonstrations: %s, max_steps: 2, max_length: 64}
  - {kind: summary}
"""


def _summary(runner) -> dict:
    return json.loads((runner.home / "reports" / "demo-sft" / "summary.json").read_text())


def test_sft_step_uses_demonstrations_where_the_store_has_them(recipe_runner):
    recipe = recipe_runner.folder / "demo-sft.yaml"
    recipe.write_text(RECIPE % "required")
    failed = recipe_runner.run(recipe)
    assert failed.returncode != 0 and "holds no human demonstration" in failed.said

    recipe.write_text(RECIPE % "auto")
    first = recipe_runner.run(recipe)
    assert first.returncode == 0, first.output[-5000:]
    assert [d["data"] for d in _summary(recipe_runner)["sft_data"]] == ["chosen responses"]
    assert "(no human demonstrations in the store)" in first.said

    engine = open_store(recipe_runner.db_url)
    seed_demonstrations(engine)
    second = recipe_runner.run(recipe)
    assert second.returncode == 0, second.output[-5000:]
    (used,) = _summary(recipe_runner)["sft_data"]
    assert (used["data"], used["snapshot"], used["demonstrations"]) == (
        "human demonstrations",
        "demo-sft-demonstrations",
        11,
    )
    assert "sft: SFT on 11 human demonstrations (snapshot demo-sft-demonstrations)" in second.said
    with Session(engine) as s:
        snap = s.exec(select(Snapshot).where(Snapshot.name == "demo-sft-demonstrations")).one()
        runs = s.exec(select(TrainingRun).order_by(TrainingRun.id)).all()
    assert snap.manifest["kind"] == "demonstrations"
    assert [r.snapshot_hash for r in runs][-1] == snap.content_hash
    assert runs[-1].metrics["target"] == "demonstrations"

    third = recipe_runner.run(recipe)
    assert third.returncode == 0, third.output[-5000:]
    with Session(engine) as s:
        assert len(s.exec(select(TrainingRun)).all()) == len(runs)  # reused, not retrained
