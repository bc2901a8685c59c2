"""Recipe validation names file, line and field; shipped recipes are valid; other packages
plug step kinds in through the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.constitutions import DocumentError
from accord.jobs import load_recipe, parse_recipe, register_step, run_recipe
from accord.jobs.context import StepOutput
from accord.jobs.registry import StepConfig, step_kinds

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["quickstart", "cai-sl", "cai-rl", "rlaif-openai", "rlaif-vllm"])
def test_shipped_recipes_are_valid(name):
    recipe = load_recipe(ROOT / "pipelines" / f"{name}.yaml")
    assert recipe.name and recipe.steps


def _write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_errors_name_file_line_and_field_path(tmp_path):
    path = _write(
        tmp_path,
        """\
name: broken
models:
  policy: {backend: transformers, model: accord/tiny}
steps:
  - kind: import_prompts
    bundled: quickstart
  - kind: generate
    n: 0
    temperature: hot
  - kind: judge
    model: nobody
    input: later
  - kind: teleport
""",
    )
    with pytest.raises(DocumentError) as err:
        load_recipe(path)
    text = str(err.value)
    assert f"{path}:8: steps[1].n: Input should be greater than or equal to 1" in text
    assert f"{path}:9: steps[1].temperature:" in text
    assert f"{path}:11: steps[2].model: unknown model alias 'nobody'" in text
    assert f"{path}:12: steps[2].input: input 'later' is not the name of an earlier step" in text
    assert f"{path}:13: steps[3].kind: unknown step kind 'teleport'" in text


def test_top_level_errors_and_bad_backend(tmp_path):
    path = _write(
        tmp_path, "name: x\nmodels:\n  p: {backend: tpu, model: m}\nsteps: []\nextra: 1\n"
    )
    with pytest.raises(DocumentError) as err:
        load_recipe(path)
    text = str(err.value)
    assert f"{path}:3: models.p.backend:" in text
    assert f"{path}:4: steps:" in text
    assert f"{path}:5: extra: Extra inputs are not permitted" in text
    with pytest.raises(DocumentError, match="exactly one of file, bundled, store_source"):
        parse_recipe({"name": "x", "steps": [{"kind": "import_prompts"}]})


def test_other_packages_register_step_kinds(store):
    seen = []

    class AuditLikeConfig(StepConfig):
        """A step another package would add (audit, snapshot, train)."""

        threshold: float = 0.5

    def run_audit_like(ctx, config):
        seen.append((ctx.input_ids("prompts", None), config.threshold))
        return StepOutput(counts={"checked": 1})

    register_step("audit_like_for_test", AuditLikeConfig, run_audit_like)
    assert "audit_like_for_test" in step_kinds()
    result = run_recipe(
        store,
        {
            "name": "plug",
            "steps": [
                {"kind": "import_prompts", "bundled": "quickstart", "limit": 3},
                {"kind": "audit_like_for_test", "threshold": 0.9},
            ],
        },
        progress=False,
    )
    assert result.status == "succeeded" and result.steps["audit_like_for_test"]["checked"] == 1
    assert len(seen[0][0]) == 3 and seen[0][1] == 0.9
    with pytest.raises(DocumentError, match=r"steps\[0\].threshold"):
        parse_recipe({"name": "x", "steps": [{"kind": "audit_like_for_test", "threshold": "x"}]})


def test_prompt_file_errors_name_the_line(tmp_path, store):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"prompt": \n{"other": 1}\n')
    with pytest.raises(DocumentError) as err:
        run_recipe(
            store,
            {"name": "x", "steps": [{"kind": "import_prompts", "file": str(bad)}]},
            progress=False,
        )
    assert f"{bad}:2: <document>: invalid JSON" in str(err.value)
    assert f"{bad}:3: prompt: no prompt text" in str(err.value)
    from sqlmodel import Session, select

    from accord.store.models import Job, Prompt

    with Session(store) as s:
        assert s.exec(select(Prompt)).all() == []  # nothing half-written
        assert s.exec(select(Job)).one().status == "failed"


def test_stored_job_config_reruns_with_relative_paths(tmp_path, store, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.txt").write_text("first prompt\nsecond prompt\n")
    path = _write(tmp_path, "name: rel\nsteps:\n  - {kind: import_prompts, file: data/p.txt}\n")
    first = run_recipe(store, path, progress=False)
    from sqlmodel import Session

    from accord.store.models import Job

    with Session(store) as s:
        config = s.get(Job, first.job_id).config
    monkeypatch.chdir(tmp_path.parent)  # a worker runs from anywhere
    again = run_recipe(store, config, progress=False)
    assert again.steps["import_prompts"] == {
        "kind": "import_prompts",
        "prompts": 2,
        "prompts_created": 0,
    }
