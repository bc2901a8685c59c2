"""The thin CLI over jobs and constitutions: `run`, `jobs list|show`, `constitutions`."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from accord.cli import constitutions as constitutions_cli
from accord.cli import jobs as jobs_cli
from accord.cli.run import run


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("run")(run)
    app.add_typer(jobs_cli.app, name="jobs")
    app.add_typer(constitutions_cli.app, name="constitutions")
    return app


def test_run_json_then_jobs_list(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: cli\nsteps:\n  - {kind: import_prompts, bundled: quickstart, limit: 4}\n"
    )
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    out = CliRunner().invoke(_app(), ["run", str(recipe), "--db", db, "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["status"] == "succeeded" and result["steps"]["import_prompts"]["prompts"] == 4
    listed = CliRunner().invoke(_app(), ["jobs", "list", "--db", db, "--json"])
    assert json.loads(listed.output)["jobs"][0]["id"] == result["job_id"]
    shown = CliRunner().invoke(_app(), ["jobs", "show", str(result["job_id"]), "--db", db])
    assert "succeeded" in shown.output and "no error records" in shown.output
    missing = CliRunner().invoke(_app(), ["jobs", "show", "999", "--db", db])
    assert missing.exit_code == 1


def test_run_rejects_a_bad_recipe_naming_the_field(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: bad\nsteps:\n  - {kind: generate, n: -1}\n")
    out = CliRunner().invoke(_app(), ["run", str(recipe), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert out.exit_code == 1
    text = " ".join(out.output.split())  # the console wraps long lines
    assert "bad.yaml:3: steps[0].n" in text


def test_constitutions_commands(tmp_path):
    listed = CliRunner().invoke(_app(), ["constitutions", "list", "--json"])
    names = {c["name"] for c in json.loads(listed.output)}
    assert {"harmlessness", "helpfulness-honesty", "tiny-test"} <= names
    shown = CliRunner().invoke(_app(), ["constitutions", "show", "tiny-test", "--json"])
    assert [p["id"] for p in json.loads(shown.output)["principles"]] == ["harmless", "helpful"]
    bad = tmp_path / "c.yaml"
    bad.write_text("name: c\nversion: 1\nprinciples: []\n")
    out = CliRunner().invoke(_app(), ["constitutions", "validate", str(bad)])
    assert out.exit_code == 1 and "c.yaml:3: principles" in " ".join(out.output.split())
