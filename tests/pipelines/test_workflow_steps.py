"""The workflow step kinds without a model: validation with file/line/field, content-addressed
snapshots with recipe-derived names, exports, Argilla steps skipped when no server is
configured, the summary, and run reuse keyed by (snapshot hash, config)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from accord.constitutions import DocumentError
from accord.jobs import load_recipe, run_recipe
from accord.store.db import open_store
from accord.store.models import Judgment, Snapshot
from accord.workflows.run_reuse import comparable_config, find_finished_run

from .conftest import PIPELINES

RECIPES = ["quickstart", "hh-agreement", "dpo", "instructgpt", "cai", "rlaif-vs-human"]


@pytest.mark.parametrize("name", RECIPES)
def test_shipped_workflow_recipes_are_valid(name):
    recipe = load_recipe(PIPELINES / f"{name}.yaml")
    assert recipe.steps[-1].kind == "summary"
    header = (PIPELINES / f"{name}.yaml").read_text().splitlines()[0]
    assert header.startswith("# ")  # each recipe opens with what it reproduces


def _write(tmp_path, text: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_bad_workflow_steps_name_line_and_field(tmp_path):
    path = _write(
        tmp_path,
        """\
name: broken
steps:
  - kind: import_preferences
    bundled: sample
    file: x.jsonl
  - kind: snapshot
    policy: everyone
  - kind: train_sft
    options: {warmup: 3}
  - kind: train_dpo
    beta: [0.1, -1]
  - kind: train_sft
    options: {max_steps: 3}
  - kind: argilla_pull
    min_labelled_fraction: 2
""",
    )
    with pytest.raises(DocumentError) as err:
        load_recipe(path)
    text = str(err.value)
    assert f"{path}:3: steps[0]: " in text and "give exactly one of file, bundled" in text
    assert f"{path}:6: steps[1]: " in text and "unknown policy 'everyone'" in text
    assert "SFTTrainConfig has no field warmup" in text
    assert "beta must be a positive number" in text
    assert "max_steps must be given as step fields" in text
    assert f"{path}:15: steps[5].min_labelled_fraction" in text


def _data_recipe(extra_steps: list[dict] | None = None) -> dict:
    return {
        "name": "curation",
        "steps": [
            {"kind": "import_preferences", "name": "human", "bundled": "sample"},
            {"kind": "snapshot", "policy": "human-over-ai", "test_fraction": 0.25},
            {"kind": "export", "format": "trl"},
            {"kind": "argilla_push", "input": "human"},
            *(extra_steps or []),
            {"kind": "summary"},
        ],
    }


def test_snapshot_export_and_summary_are_content_addressed(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    first = run_recipe(engine, _data_recipe(), progress=False)
    assert first.status == "succeeded"
    assert first.steps["human"]["pairs"] == 40 and first.steps["snapshot"]["reused"] is False
    assert first.steps["argilla_push"]["skipped"] == "no Argilla server configured"
    export_dir = first.steps["export"]["export"]
    with open(f"{export_dir}/manifest.json") as f:
        manifest = json.load(f)

    second = run_recipe(engine, _data_recipe(), progress=False)
    assert second.steps["snapshot"]["reused"] is True and second.steps["export"]["reused"] is True
    with Session(engine) as s:
        snaps = s.exec(select(Snapshot)).all()
    assert [x.name for x in snaps] == ["curation-human-over-ai"]
    assert manifest["content_hash"] == snaps[0].content_hash

    # New labelled pairs change the content: the default name moves to the next free variant.
    extra = tmp_path / "more.jsonl"
    extra.write_text(
        json.dumps({"prompt": "Name a planet.", "chosen": "Mars.", "rejected": "The Moon."}) + "\n"
    )
    third = run_recipe(
        engine,
        _data_recipe(
            [
                {"kind": "import_preferences", "file": str(extra)},
                {"kind": "snapshot", "name": "again"},
            ]
        ),
        progress=False,
    )
    assert third.steps["snapshot"]["snapshot"] == "curation-human-over-ai"  # before the new import
    assert third.steps["again"]["snapshot"] == "curation-human-over-ai-2"
    err = capsys.readouterr().err
    assert "no Argilla server configured" in err and snaps[0].content_hash in err
    assert "No human labels in the store" not in err  # the imported labels are human ones
    with Session(engine) as s:
        assert {j.kind for j in s.exec(select(Judgment)).all()} == {"human"}


def test_explicit_snapshot_name_is_immutable(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    recipe = {
        "name": "fixed",
        "steps": [
            {"kind": "import_preferences", "bundled": "sample"},
            {"kind": "snapshot", "snapshot": "{recipe}-v1", "test_fraction": 0.0},
        ],
    }
    assert run_recipe(engine, recipe, progress=False).steps["snapshot"]["snapshot"] == "fixed-v1"
    recipe["steps"][1]["test_fraction"] = 0.5  # other content under the same explicit name
    with pytest.raises(ValueError, match="already exists with different content"):
        run_recipe(engine, recipe, progress=False)


def test_argilla_step_required_without_server_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    recipe = {"name": "needs-labels", "steps": [{"kind": "argilla_pull", "required": True}]}
    with pytest.raises(ValueError, match="no Argilla server configured"):
        run_recipe(engine, recipe, progress=False)


def test_run_reuse_ignores_bookkeeping_but_not_training_fields(tmp_path):
    from accord.train.runs import RunRecorder

    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    config = {
        "snapshot": "a",
        "model": "accord/tiny",
        "beta": 0.1,
        "max_steps": 4,
        "run_name": "x",
        "output_dir": None,
        "db_url": None,
        "save_model": False,
        "loss_type": ["sigmoid"],
    }
    recorder = RunRecorder.start(
        engine,
        kind="dpo",
        snapshot_hash="ab" * 32,
        base_model="accord/tiny",
        config={**config, "snapshot_name": "a"},
    )
    recorder.finish(metrics={"train_loss": 0.6})
    renamed = {**config, "snapshot": "b", "run_name": "y", "output_dir": "/elsewhere"}
    assert (
        find_finished_run(engine, kind="dpo", snapshot_hash="ab" * 32, config=renamed).id
        == recorder.run_id
    )
    assert find_finished_run(engine, kind="dpo", snapshot_hash="cd" * 32, config=config) is None
    assert (
        find_finished_run(
            engine, kind="dpo", snapshot_hash="ab" * 32, config={**config, "beta": 0.2}
        )
        is None
    )
    assert find_finished_run(engine, kind="rm", snapshot_hash="ab" * 32, config=config) is None
    assert comparable_config({"loss_type": ("sigmoid",), "x": float("nan")}) == {
        "loss_type": ["sigmoid"]
    }
