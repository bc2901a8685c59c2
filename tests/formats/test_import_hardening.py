"""Importer cases of the security suite: the rejects file never destroys data, duplicate rows
of one file give the same outcome whatever the batch size, texts the store cannot keep are
refused with the same error on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from accord.cli import data
from accord.formats.base import InvalidRecordError
from accord.importer import import_file
from accord.store.db import open_store, session_scope
from accord.store.models import Judgment, JudgmentRevision


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def rows_with_an_invalid_one():
    return [
        {"prompt": "q1", "chosen": "a", "rejected": "b"},
        {"prompt": "q2", "chosen": "same", "rejected": "same"},
    ]


@pytest.fixture
def cli():
    app = typer.Typer()
    app.command("import")(data.import_)
    app.command("stats")(data.stats)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, [str(a) for a in args])
        result.text = " ".join(result.output.split())  # the console wraps long lines
        return result

    return run


def test_rejects_path_that_is_the_input_is_refused_and_the_input_kept(cli, tmp_path):
    path = write_rows(tmp_path / "prefs.jsonl", rows_with_an_invalid_one())
    before = path.read_bytes()
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = cli("import", path, "-f", "trl", "--skip-invalid", "--rejects", path, "--db", db)
    assert result.exit_code == 1 and "the rejects file is the input file" in result.text
    assert path.read_bytes() == before
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    with pytest.raises(ValueError, match="is the input file"):
        import_file(open_store(db), path, fmt="trl", skip_invalid=True, rejects_path=link)
    with pytest.raises(ValueError, match="is the input file"):  # the same file spelled differently
        import_file(
            open_store(db),
            path,
            fmt="trl",
            skip_invalid=True,
            rejects_path=tmp_path / "." / "prefs.jsonl",
        )
    assert path.read_bytes() == before


def test_an_existing_rejects_file_is_kept_unless_force(cli, tmp_path):
    path = write_rows(tmp_path / "prefs.jsonl", rows_with_an_invalid_one())
    rejects = tmp_path / "keep.jsonl"
    rejects.write_text("precious\n")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = cli("import", path, "-f", "trl", "--skip-invalid", "--rejects", rejects, "--db", db)
    assert result.exit_code == 1 and "exists already" in result.text and "--force" in result.text
    assert rejects.read_text() == "precious\n"
    result = cli(
        "import", path, "-f", "trl", "--skip-invalid", "--rejects", rejects, "--force", "--db", db
    )
    assert result.exit_code == 0, result.output
    assert json.loads(rejects.read_text())["line"] == 2


def _judgments(engine):
    with session_scope(engine) as s:
        rows = [tuple(r) for r in s.execute(select(Judgment.preferred, Judgment.kind)).all()]
        revisions = s.execute(select(func.count()).select_from(JudgmentRevision)).scalar_one()
    return sorted(rows), revisions


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_conflicting_duplicates_give_one_outcome_whatever_the_batch_size(
    db_url, tmp_path, batch_size
):
    rows = [
        {"prompt": "q", "chosen": "a", "rejected": "b", "annotator": "ann"},
        {"prompt": "other", "chosen": "x", "rejected": "y"},
        {"prompt": "q", "chosen": "a", "rejected": "b", "annotator": "ann"},  # same: fine
        {"prompt": "q", "chosen": "b", "rejected": "a", "annotator": "ann"},
    ]  # conflict
    path = write_rows(tmp_path / "dups.jsonl", rows)
    engine = open_store(db_url)
    with pytest.raises(InvalidRecordError) as info:
        import_file(engine, path, fmt="trl", batch_size=batch_size)
    assert info.value.line == 4 and "conflicts with line 1" in str(info.value)
    assert _judgments(engine) == ([], 0)  # nothing stored
    report = import_file(engine, path, fmt="trl", batch_size=batch_size, skip_invalid=True)
    assert (report.records, report.invalid, report.conflicts) == (3, 1, 1)
    preferred, revisions = _judgments(engine)
    assert revisions == 0 and len(preferred) == 2  # the first answer kept, no revision
    reject = json.loads((tmp_path / "dups.jsonl.rejects.jsonl").read_text())
    assert reject["line"] == 4 and "conflicts with line 1" in reject["reason"]


@pytest.mark.parametrize("field", ["prompt", "chosen", "rejected"])
def test_nul_text_is_refused_the_same_way_on_sqlite_and_postgresql(db_url, tmp_path, field):
    row = {"prompt": "q", "chosen": "a", "rejected": "b"}
    row[field] = "bad\u0000text"
    path = write_rows(
        tmp_path / "nul.jsonl", [{"prompt": "ok", "chosen": "1", "rejected": "2"}, row]
    )
    engine = open_store(db_url)
    with pytest.raises(InvalidRecordError) as info:
        import_file(engine, path, fmt="trl")
    assert info.value.line == 2 and "NUL character" in str(info.value)
    report = import_file(engine, path, fmt="trl", skip_invalid=True)
    assert (report.records, report.invalid) == (1, 1)


def test_lone_surrogate_text_is_refused_naming_the_line(db_url, tmp_path):
    path = tmp_path / "surrogate.jsonl"
    path.write_text('{"prompt": "q", "chosen": "a\\ud800", "rejected": "b"}\n')
    with pytest.raises(InvalidRecordError) as info:
        import_file(open_store(db_url), path, fmt="trl")
    assert info.value.line == 1 and "surrogate" in str(info.value)
