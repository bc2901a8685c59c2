"""``accord import --format ranking``: rankings of K responses from JSONL, kept as rankings and
expanded into pairwise judgments, all or nothing, idempotent; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from accord.cli import data
from accord.store.db import open_store
from accord.store.models import Annotator, Judgment, Ranking

ROWS = [
    {
        "prompt": "Name a colour",
        "responses": ["red", "car", "blue", "sky"],
        "ranking": [1, 4, 1, 3],
        "annotator": "ann",
        "shown_order": [2, 0, 3, 1],
    },
    {
        "prompt": "Name a colour",
        "responses": ["red", "car", "blue", "sky"],
        "ranking": [2, 4, 1, 3],
        "annotator": "bob",
    },
    {
        "prompt": [{"role": "user", "content": "2+2?"}],
        "responses": ["4", "5", "four"],
        "ranking": [1, 3, 2],
    },
]


@pytest.fixture
def cli():
    app = typer.Typer()
    app.command("import")(data.import_)
    app.command("stats")(data.stats)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rankings_import_expand_and_are_idempotent(cli, tmp_path, db_url):
    path = _write(tmp_path / "ranks.jsonl", ROWS)
    result = cli("import", path, "--format", "ranking", "--db", db_url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rankings"] == 3 and report["records"] == 3
    assert report["new"] == {
        "prompts": 2,
        "responses": 7,
        "pairs": 6 + 3,
        "judgments": 6 + 6 + 3,
        "annotators": 2,
    }
    engine = open_store(db_url)
    with Session(engine) as s:
        by_judge = {r.judge: r for r in s.exec(select(Ranking)).all()}
        assert set(by_judge) == {"ann", "bob", f"import:{path.name}"}
        ann = by_judge["ann"]
        assert (
            ann.annotator_id
            == s.exec(select(Annotator.id).where(Annotator.username == "ann")).one()
        )
        assert len(ann.shown_order) == 4 and by_judge["bob"].shown_order == []
        ties = s.exec(
            select(Judgment).where(Judgment.ranking_id == ann.id, Judgment.preferred == "tie")
        ).all()
        assert len(ties) == 1  # red and blue share rank 1
        assert all(
            j.presentation_order in ("ab", "ba")
            for j in s.exec(select(Judgment).where(Judgment.ranking_id == ann.id)).all()
        )
    stats = json.loads(cli("stats", "--db", db_url, "--json").stdout)
    assert stats["rankings"] == {"total": 3, "human": 3, "ai": 0}
    again = json.loads(cli("import", path, "-f", "ranking", "--db", db_url, "--json").stdout)
    assert again["already_present"] is True and again["rankings"] == 0


def test_a_bad_row_names_line_and_field_and_stores_nothing(cli, tmp_path, db_url):
    bad = {"prompt": "q", "responses": ["a", "b", "c"], "ranking": [1, 2]}
    path = _write(tmp_path / "ranks.jsonl", ROWS + [bad])
    result = cli("import", path, "-f", "ranking", "--db", db_url)
    assert result.exit_code == 1
    assert f"{path}:4: field 'ranking': 2 ranks for 3 responses" in result.output.replace("\n", "")
    with Session(open_store(db_url)) as s:
        assert s.exec(select(Ranking)).all() == [] and s.exec(select(Judgment)).all() == []


@pytest.mark.parametrize(
    "row, field",
    [
        ({"prompt": "q", "responses": ["a"], "ranking": [1]}, "responses"),
        ({"prompt": "q", "responses": ["a", "a"], "ranking": [1, 2]}, "responses"),
        ({"prompt": "q", "responses": ["a", "b"], "ranking": [0, 1]}, "ranking"),
        (
            {"prompt": "q", "responses": ["a", "b"], "ranking": [1, 2], "shown_order": [0, 0]},
            "shown_order",
        ),
        ({"prompt": "", "responses": ["a", "b"], "ranking": [1, 2]}, "prompt"),
        ({"prompt": "q", "responses": ["a", ""], "ranking": [1, 2]}, "responses[1]"),
    ],
)
def test_skip_invalid_writes_rejects_with_the_field(cli, tmp_path, row, field):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    path = _write(tmp_path / "ranks.jsonl", [ROWS[0], row])
    result = cli("import", path, "-f", "ranking", "--db", db_url, "--skip-invalid", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rankings"], report["invalid"]) == (1, 1)
    (reject,) = [json.loads(x) for x in open(report["rejects_path"])]
    assert reject["line"] == 2 and reject["field"] == field


def test_two_rows_giving_one_ranking_other_ranks_conflict(cli, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    other = {**ROWS[0], "ranking": [4, 3, 2, 1]}
    path = _write(tmp_path / "ranks.jsonl", [ROWS[0], ROWS[0], other])
    result = cli("import", path, "-f", "ranking", "--db", db_url)
    assert result.exit_code == 1
    assert "conflicts with line 1" in result.output.replace("\n", "")
    skipped = cli("import", path, "-f", "ranking", "--db", db_url, "--skip-invalid", "--json")
    report = json.loads(skipped.stdout)
    assert (report["rankings"], report["conflicts"], report["invalid"]) == (1, 1, 1)
    with Session(open_store(db_url)) as s:
        (ranking,) = s.exec(select(Ranking)).all()
        assert sorted(ranking.ranks) == [1, 1, 2, 3]  # the first row's answer is kept
