"""Imports into a real store (SQLite and PostgreSQL): counts, idempotency, all-or-nothing,
rejects files, label kinds, datasets on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from accord.data import sample_path
from accord.formats.base import InvalidRecordError
from accord.importer import import_file
from accord.store.crud.stats import store_stats
from accord.store.db import open_store, session_scope
from accord.store.models import Annotator, Judgment, JudgmentRevision, Prompt


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def counts(engine):
    with session_scope(engine) as s:
        return store_stats(s)


def good_rows(n, start=0):
    return [
        {"prompt": f"question {i}", "chosen": f"good answer {i}", "rejected": f"bad answer {i}"}
        for i in range(start, start + n)
    ]


def test_sample_imports_once_then_is_already_present(db_url):
    engine = open_store(db_url)
    first = import_file(engine, sample_path("sample_preferences.jsonl"), fmt="trl")
    assert first.records == 40 and first.new["pairs"] == 40 and first.new["judgments"] == 40
    assert not first.already_present
    again = import_file(engine, sample_path("sample_preferences.jsonl"), fmt="trl")
    assert again.already_present and not any(again.new.values())
    assert again.unchanged_judgments == 40
    stats = counts(engine)
    assert (stats["prompts"], stats["pairs"], stats["judgments"]["human"]) == (40, 40, 40)


@pytest.mark.parametrize(
    "bad_line, field",
    [
        ('{"prompt": "q", "chosen": "a"', "<json>"),
        ('{"prompt": "q", "chosen": "a"}', "rejected"),
        ('{"prompt": "q", "chosen": 7, "rejected": "b"}', "chosen"),
        ('{"prompt": "", "chosen": "a", "rejected": "b"}', "prompt"),
        (b'{"prompt": "\xc3\x28", "chosen": "a", "rejected": "b"}', "<line>"),
    ],
)
def test_bad_line_stops_the_import_and_stores_nothing(db_url, tmp_path, bad_line, field):
    engine = open_store(db_url)
    path = write_jsonl(tmp_path / "prefs.jsonl", good_rows(10))
    with open(path, "ab") as f:
        f.write((bad_line if isinstance(bad_line, bytes) else bad_line.encode()) + b"\n")
        f.write(json.dumps(good_rows(1, 99)[0]).encode() + b"\n")
    # batch_size 3: three batches were written before line 11 — and are rolled back.
    with pytest.raises(InvalidRecordError) as info:
        import_file(engine, path, fmt="trl", batch_size=3)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), 11, field)
    stats = counts(engine)
    assert stats["prompts"] == stats["pairs"] == stats["judgments"]["total"] == 0
    assert not (tmp_path / "prefs.jsonl.rejects.jsonl").exists()


def test_skip_invalid_writes_rejects_and_imports_the_rest(db_url, tmp_path):
    engine = open_store(db_url)
    path = tmp_path / "prefs.jsonl"
    lines = [json.dumps(r) for r in good_rows(3)]
    lines[1:1] = ["not json", json.dumps({"prompt": "q", "chosen": "same", "rejected": "same"})]
    path.write_text("\n".join(lines) + "\n")
    report = import_file(engine, path, fmt="trl", skip_invalid=True, batch_size=2)
    assert (report.records, report.invalid, report.new["pairs"]) == (3, 2, 3)
    rejects = [json.loads(x) for x in Path(report.rejects_path).read_text().splitlines()]
    assert report.rejects_path == str(tmp_path / "prefs.jsonl.rejects.jsonl")
    assert [(r["line"], r["field"]) for r in rejects] == [(2, "<json>"), (3, "rejected")]
    assert rejects[0]["row"] == "not json" and "identical" in rejects[1]["reason"]
    custom = import_file(
        engine, path, fmt="trl", skip_invalid=True, rejects_path=tmp_path / "out" / "bad.jsonl"
    )
    assert custom.already_present and custom.rejects_path == str(tmp_path / "out" / "bad.jsonl")


def test_label_kinds_judges_and_annotators(db_url, tmp_path):
    engine = open_store(db_url)
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"prompt": "q1", "chosen": "a", "rejected": "b", "annotator": "alice"},
            {"prompt": "q2", "chosen": "a", "rejected": "b"},
        ],
    )
    human = import_file(engine, path, fmt="trl")
    with pytest.raises(ValueError, match="already has human judgments"):
        import_file(engine, path, fmt="trl", label_kind="ai")  # same judges, other kind
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"prompt": "q1", "chosen": "a", "rejected": "b", "annotator": "judge-model"},
            {"prompt": "q2", "chosen": "a", "rejected": "b"},
        ],
    )
    ai = import_file(engine, path, fmt="trl", label_kind="ai", source="gpt-labels")
    assert human.new["annotators"] == 1 and ai.new["annotators"] == 0
    with session_scope(engine) as s:
        rows = s.execute(
            select(Judgment.kind, Judgment.judge, Judgment.annotator_id, Judgment.judge_backend)
        ).all()
        assert [a.username for a in s.scalars(select(Annotator))] == ["alice"]
    assert sorted((k, j, a is not None, b) for k, j, a, b in rows) == [
        ("ai", "import:gpt-labels", False, "import"),
        ("ai", "judge-model", False, "import"),
        ("human", "alice", True, ""),
        ("human", "import:mixed.jsonl", False, ""),
    ]
    assert ai.new["pairs"] == 0 and ai.new["judgments"] == 2  # same pairs, new judges


def test_changed_answer_is_updated_with_history(db_url, tmp_path):
    engine = open_store(db_url)
    path = tmp_path / "labels.csv"
    path.write_text("prompt,chosen,rejected,prob,annotator\nq,a,b,0.9,bob\n")
    import_file(engine, path, fmt="csv")
    path.write_text("prompt,chosen,rejected,prob,annotator\nq,a,b,0.6,bob\n")
    report = import_file(engine, path, fmt="csv")
    assert report.updated_judgments == 1 and not report.already_present
    with session_scope(engine) as s:
        [rev] = s.scalars(select(JudgmentRevision)).all()
        [j] = s.scalars(select(Judgment)).all()
        assert {rev.prob_a, j.prob_a} == {0.9, 0.6} or {1 - rev.prob_a, 1 - j.prob_a} == {0.9, 0.6}


def test_hf_save_to_disk_and_parquet_layouts(db_url, tmp_path):
    from datasets import Dataset, DatasetDict

    q = "Name a planet."
    uf = {
        "prompt": [q, q + " "],
        "prompt_id": ["p1", "p2"],
        "chosen": [[{"role": "user", "content": q}, {"role": "assistant", "content": "Mars."}]] * 2,
        "rejected": [[{"role": "user", "content": q}, {"role": "assistant", "content": "Pluto?"}]]
        * 2,
        "score_chosen": [9.0, 8.0],
        "score_rejected": [4.0, 8.0],
    }
    DatasetDict(
        {"train_prefs": Dataset.from_dict(uf), "test_prefs": Dataset.from_dict(uf)}
    ).save_to_disk(str(tmp_path / "uf"))
    Dataset.from_dict(
        {
            "chosen": ["\n\nHuman: Hi\n\nAssistant: Hello!"],
            "rejected": ["\n\nHuman: Hi\n\nAssistant: Go away."],
        }
    ).to_parquet(str(tmp_path / "hh.parquet"))
    Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": "2+2?"}]],
            "chosen": [[{"role": "assistant", "content": "4"}]],
            "rejected": [[{"role": "assistant", "content": "5"}]],
        }
    ).to_parquet(str(tmp_path / "trl.parquet"))
    engine = open_store(db_url)
    uf_report = import_file(engine, tmp_path / "uf", fmt="hf", label_kind="ai")
    assert uf_report.records == 4 and uf_report.new["pairs"] == 1  # the first user turn is shared
    # The second split and the prompt-only difference change nothing: same messages.
    assert uf_report.new["judgments"] == 1
    assert import_file(engine, tmp_path / "hh.parquet", fmt="hf").new["pairs"] == 1
    assert import_file(engine, tmp_path / "trl.parquet", fmt="trl").new["pairs"] == 1
    assert import_file(
        engine, tmp_path / "uf", fmt="ultrafeedback-binarized", label_kind="ai"
    ).already_present
    with session_scope(engine) as s:
        prompts = {p.text: p.messages for p in s.scalars(select(Prompt))}
    assert prompts == {
        "Name a planet.": [{"role": "user", "content": q}],
        "Hi": [{"role": "user", "content": "Hi"}],
        "2+2?": [{"role": "user", "content": "2+2?"}],
    }


def test_hf_bad_row_names_split_and_row(db_url, tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict(
        {
            "train": Dataset.from_dict(
                {"prompt": ["q", "q2"], "chosen": ["a", ""], "rejected": ["b", "c"]}
            )
        }
    ).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(InvalidRecordError) as info:
        import_file(open_store(db_url), tmp_path / "d", fmt="hf")
    assert (info.value.file, info.value.line, info.value.field) == (
        f"{tmp_path / 'd'}[train]",
        2,
        "chosen",
    )
