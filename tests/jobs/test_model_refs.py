"""``model: {from_step: NAME}``: a step uses the model an earlier step trained, in the same run;
bad references are refused before anything runs, naming the step, field and line; a rerun
answers every request from the cache without loading the model."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from accord.constitutions import DocumentError
from accord.jobs import load_recipe, run_recipe
from accord.jobs.context import ModelRef
from accord.store.models import CacheEntry, Response, TrainingRun

BAD = """\
name: refs
models:
  policy: {backend: transformers, model: accord/tiny}
steps:
  - {kind: import_prompts, name: prompts, bundled: quickstart, limit: 2}
  - {kind: generate, name: early, model: {from_step: sl}}
  - {kind: generate, name: nothing, model: {from_step: prompts}}
  - {kind: generate, name: typo, model: {from_step: sll}}
  - {kind: generate, name: shape, model: {from_step: prompts, temperature: 1}}
  - {kind: import_preferences, bundled: sample}
  - {kind: snapshot, policy: human-only}
  - {kind: train_sft, name: sl, target: chosen, max_steps: 1}
  - {kind: train_dpo, base_model: {backend: transformers}, max_steps: 1}
"""


def test_bad_references_name_step_field_and_line(tmp_path):
    path = tmp_path / "refs.yaml"
    path.write_text(BAD)
    with pytest.raises(DocumentError) as err:
        load_recipe(path)
    text = str(err.value)
    assert f"{path}:6: steps[1].model: from_step 'sl' does not run before this step" in text
    assert (
        f"{path}:7: steps[2].model: from_step 'prompts' is a step of kind import_prompts, "
        "which produces no model" in text
    )
    assert f"{path}:8: steps[3].model: from_step 'sll' is not the name of a step" in text
    assert (
        "steps[4].model: model reference {from_step: ...} takes only from_step, backend, "
        "options; not temperature" in text
    )
    assert "base_model: a mapping here must be {from_step: NAME}" in text


RECIPE = {
    "name": "from-step",
    "seed": 3,
    "steps": [
        {"kind": "import_preferences", "bundled": "sample"},
        {"kind": "snapshot", "policy": "human-only", "test_fraction": 0.0},
        {"kind": "train_sft", "name": "sl", "target": "chosen", "max_steps": 2, "max_length": 64},
        {"kind": "import_prompts", "name": "prompts", "bundled": "quickstart", "limit": 3},
        {
            "kind": "generate",
            "name": "from-sl",
            "input": "prompts",
            "n": 2,
            "temperature": 1.0,
            "max_tokens": 6,
            "model": {"from_step": "sl", "options": {"batch_size": 8}},
        },
    ],
}


@pytest.mark.slow
def test_generate_from_the_model_an_earlier_step_trained(store):
    built: list[ModelRef] = []

    def factory(ref: ModelRef):
        from accord.backends import make_backend

        built.append(ref)
        return make_backend(ref.backend, ref.model, **ref.options)

    first = run_recipe(store, RECIPE, progress=False, backend_factory=factory)
    assert first.status == "succeeded"
    with Session(store) as s:
        run = s.exec(select(TrainingRun)).one()
        models = set(
            s.exec(
                select(Response.model_id).where(
                    Response.role == "initial", Response.job_id == first.job_id
                )
            ).all()
        )
        n_responses = len(s.exec(select(Response)).all())
        n_cache = len(s.exec(select(CacheEntry)).all())
    # the samples come from the SL run's folder, with the reference's backend options
    assert [(r.backend, r.model, r.options) for r in built] == [
        ("transformers", run.artifact_path, {"batch_size": 8})
    ]
    assert models == {run.artifact_path}

    built.clear()
    again = run_recipe(store, RECIPE, progress=False, backend_factory=factory)
    assert again.status == "succeeded" and again.steps["sl"]["reused"] == 1
    assert built == []  # every request answered by the cache: the model is never loaded
    with Session(store) as s:
        assert len(s.exec(select(TrainingRun)).all()) == 1
        assert len(s.exec(select(Response)).all()) == n_responses
        assert len(s.exec(select(CacheEntry)).all()) == n_cache


@pytest.mark.slow
def test_a_sweep_is_no_single_model(store):
    recipe = {
        "name": "sweep-ref",
        "steps": [
            {"kind": "import_preferences", "bundled": "sample"},
            {"kind": "snapshot", "policy": "human-only", "test_fraction": 0.0},
            {
                "kind": "train_dpo",
                "name": "sweep",
                "beta": [0.1, 0.2],
                "max_steps": 1,
                "max_length": 64,
                "evaluate": False,
            },
            {"kind": "train_sft", "base_model": {"from_step": "sweep"}, "max_steps": 1},
        ],
    }
    with pytest.raises(
        ValueError,
        match=r"step 'train_sft': base_model: from_step 'sweep': it "
        r"trained 2 runs \(a sweep\)",
    ):
        run_recipe(store, recipe, progress=False)
