"""The recipe step ``import_preferences`` on messy real-world data: an HH-RLHF file with a row
whose last reply is empty (HH-RLHF has 3 in its first 1,000). Without ``skip_invalid`` the step
refuses the file and names the line; with it, the rest is imported, the job reports the count,
and the rejects go under the home (or the working folder), never beside the input."""

from __future__ import annotations

import json
import os

import yaml

from .conftest import PIPELINES


def _hh_row(question: str, chosen: str, rejected: str) -> str:
    head = f"\n\nHuman: {question}\n\nAssistant:"
    return json.dumps({"chosen": f"{head} {chosen}", "rejected": f"{head} {rejected}"}) + "\n"


def _inputs(tmp_path, **step):
    data = tmp_path / "input"
    data.mkdir()
    hh = data / "hh.jsonl"
    hh.write_text(
        _hh_row("What is 2+2?", "4.", "5.")
        + _hh_row("Capital of Italy?", "Rome.", "")  # line 2: empty last reply
        + _hh_row("Colour of the sky?", "Blue.", "Green.")
    )
    recipe = {
        "name": "messy",
        "seed": 0,
        "steps": [
            {
                "kind": "import_preferences",
                "name": "hh",
                "file": str(hh),
                "format": "hh-rlhf",
                **step,
            }
        ],
    }
    path = tmp_path / "messy.yaml"
    path.write_text(yaml.safe_dump(recipe))
    os.chmod(data, 0o555)  # the input's folder is read-only, as a shared data set is
    return path, data


def test_an_invalid_row_stops_the_step_and_names_the_line(recipe_runner, tmp_path):
    path, _ = _inputs(tmp_path)
    done = recipe_runner.run(path)
    assert done.returncode == 1
    assert "hh.jsonl:2" in done.said and "empty" in done.said
    assert recipe_runner.row_counts()["pair"] == 0


def test_skip_invalid_imports_the_rest_and_writes_rejects_under_the_home(recipe_runner, tmp_path):
    path, data = _inputs(tmp_path, skip_invalid=True)
    done = recipe_runner.run(path, "--json")
    assert done.returncode == 0, done.output[-3000:]
    result = json.loads(done.stdout)
    rejects = recipe_runner.home.resolve() / "rejects" / "messy" / "hh.rejects.jsonl"
    assert result["steps"]["hh"]["pairs"] == 2
    assert result["steps"]["hh"]["invalid"] == 1 and result["steps"]["hh"]["rejects"] == str(
        rejects
    )
    assert f"1 invalid row(s) of hh.jsonl skipped, written to {rejects}" in done.said
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["line"] == 2 and "Rome." in reject["row"]
    assert sorted(p.name for p in data.iterdir()) == ["hh.jsonl"]  # nothing beside the input


def test_rejects_path_is_relative_to_the_working_folder(recipe_runner, tmp_path):
    path, _ = _inputs(tmp_path, skip_invalid=True, rejects="out/bad-rows.jsonl")
    done = recipe_runner.run(path)
    assert done.returncode == 0, done.output[-3000:]
    assert (recipe_runner.folder / "out" / "bad-rows.jsonl").is_file()
    assert "invalid=1" in done.stdout


def test_rejects_without_skip_invalid_is_a_config_error(recipe_runner, tmp_path):
    path, _ = _inputs(tmp_path, rejects="bad.jsonl")
    done = recipe_runner.run(path)
    assert done.returncode == 1 and "rejects is only used with skip_invalid" in done.said


def test_hh_agreement_recipe_is_valid():
    from accord.jobs.recipe import load_recipe
    from accord.snapshots.recipe_steps import ImportPreferencesConfig

    recipe = load_recipe(PIPELINES / "hh-agreement.yaml")
    [step] = [s for s in recipe.steps if isinstance(s, ImportPreferencesConfig)]
    assert step.skip_invalid and step.format == "hh-rlhf"
