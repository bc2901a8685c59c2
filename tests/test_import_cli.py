"""``accord import`` and ``accord stats`` as a user runs them: output, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from accord.cli import data
from accord.data import sample_path

SAMPLE = str(sample_path("sample_preferences.jsonl"))


@pytest.fixture
def cli():
    app = typer.Typer()
    app.command("import")(data.import_)
    app.command("stats")(data.stats)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_import_sample_then_already_present_then_stats(cli, db_url):
    first = cli("import", SAMPLE, "--format", "trl", "--db", db_url)
    assert first.exit_code == 0, first.output
    assert "pairs" in first.output and "40" in first.output
    again = cli("import", SAMPLE, "-f", "trl", "--db", db_url)
    assert again.exit_code == 0 and "already present" in again.output
    as_json = json.loads(cli("import", SAMPLE, "-f", "trl", "--db", db_url, "--json").stdout)
    assert as_json["already_present"] is True and as_json["new"]["judgments"] == 0
    stats = json.loads(cli("stats", "--db", db_url, "--json").stdout)
    assert stats == {
        "prompts": 40,
        "responses": {"total": 80, "initial": 80, "critique": 0, "revision": 0, "demonstration": 0},
        "pairs": 40,
        "judgments": {"total": 40, "human": 40, "ai": 0},
        "rankings": {"total": 0, "human": 0, "ai": 0},
        "annotators": 0,
        "snapshots": 0,
        "runs": 0,
    }
    table = cli("stats", "--db", db_url)
    assert table.exit_code == 0 and "initial 80" in table.output


def test_label_kind_ai(cli, db_url):
    result = cli("import", SAMPLE, "-f", "trl", "--label-kind", "ai", "--db", db_url, "--json")
    assert result.exit_code == 0
    stats = json.loads(cli("stats", "--db", db_url, "--json").stdout)
    assert stats["judgments"] == {"total": 40, "human": 0, "ai": 40}


def test_invalid_line_exits_1_naming_file_line_field_and_stores_nothing(cli, tmp_path, db_url):
    path = tmp_path / "prefs.jsonl"
    path.write_text(Path(SAMPLE).read_text() + '{"prompt": "q", "chosen": "a", "rejected": 3}\n')
    result = cli("import", path, "-f", "trl", "--db", db_url)
    assert result.exit_code == 1
    assert f"{path}:41: field 'rejected'" in result.output.replace("\n", "")
    assert "nothing from" in result.output
    stats = json.loads(cli("stats", "--db", db_url, "--json").stdout)
    assert stats["pairs"] == 0 and stats["prompts"] == 0


def test_skip_invalid_with_rejects_path(cli, tmp_path, db_url):
    path = tmp_path / "prefs.jsonl"
    path.write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n{oops\n')
    rejects = tmp_path / "rejected.jsonl"
    result = cli(
        "import",
        path,
        "-f",
        "trl",
        "--skip-invalid",
        "--rejects",
        rejects,
        "--db",
        db_url,
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["invalid"], report["records"], report["rejects_path"]) == (1, 1, str(rejects))
    assert json.loads(rejects.read_text())["line"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ["import", SAMPLE, "--format", "yaml"],
        ["import", SAMPLE],
        ["import", "/no/such/file.jsonl", "-f", "trl"],
        ["import", SAMPLE, "-f", "trl", "--label-kind", "robot"],
    ],
)
def test_usage_errors_exit_2(cli, tmp_path, args):
    assert cli(*args, "--db", f"sqlite:///{tmp_path / 'x.db'}").exit_code == 2
