"""The TRL export writes exactly what ``json.dumps(row, ensure_ascii=False)`` writes, line for
line, on SQLite and PostgreSQL, plain and conversational (files of earlier exports stay
byte-comparable)."""

from __future__ import annotations

import json
import math

import pytest

from accord.snapshots import create_snapshot, export_snapshot, verify_export
from accord.snapshots.examples import iter_examples
from accord.snapshots.export import _jsonl_lines
from accord.store.db import session_scope
from accord.store.ingest import JudgmentSpec, PreferenceIngestor, PreferenceRecord

TRICKY = [
    'quote " and backslash \\',
    "new\nline\ttab\r",
    "ünïcödé — 日本語 🙂",
    "control \x01\x1f",
    "slash / and </script>",
    "  spaces  ",
    "\u2028 line separator",
]


def _row(values):
    return ("p", "c", "r", *values)


@pytest.mark.parametrize(
    "values",
    [
        (0.75, 1, "human", 2, 1.0, 7, "ab" * 32, "initial", "revision", "train"),
        (None, 0, "ai", 0, 0.3333333333333333, 1, "0" * 64, "initial", "initial", "test"),
        (1.0, True, "mixed", 3, float("nan"), 12, "f" * 64, "critique", "initial", "train"),
        (1e-07, False, "ai", 1, float("inf"), 3, "e" * 64, "initial", "initial", "test"),
    ],
)
def test_line_is_json_dumps(values):
    r = _row(values)
    row = dict(
        zip(
            (
                "prompt",
                "chosen",
                "rejected",
                "score",
                "tie",
                "label_source",
                "n_labels",
                "weight",
                "pair_id",
                "example_hash",
                "chosen_role",
                "rejected_role",
            ),
            r[:12],
        )
    )
    row["tie"] = bool(row["tie"])
    assert _jsonl_lines([r], False) == [json.dumps(row, ensure_ascii=False) + "\n"]
    # A column mixing None, NaN and finite values takes the general path: same text.
    mixed = [r, _row((0.25, 0, "ai", 1, 2.0, 5, "c" * 64, "initial", "initial", "train"))]
    assert _jsonl_lines(mixed, False)[0] == _jsonl_lines([r], False)[0]


@pytest.mark.parametrize("text", TRICKY)
def test_line_escapes_text_like_json_dumps(text):
    r = (
        text,
        text + "c",
        text + "r",
        0.5,
        1,
        "human",
        1,
        1.0,
        1,
        "a" * 64,
        "initial",
        "initial",
        "train",
    )
    line = _jsonl_lines([r], False)[0]
    assert json.loads(line)["prompt"] == text
    conv = (
        [{"role": "user", "content": text}],
        [{"role": "assistant", "content": text}],
        [{"role": "assistant", "content": text}],
        *r[3:],
    )
    row = dict(zip(("prompt", "chosen", "rejected"), conv[:3]))
    assert _jsonl_lines([conv], True)[0].startswith(json.dumps(row, ensure_ascii=False)[:-1] + ", ")


@pytest.mark.parametrize("conversational", [False, True])
def test_export_files_equal_json_dumps_of_examples(engine, tmp_path, conversational):
    recs = [
        PreferenceRecord(
            prompt=f"{t} prompt {i}",
            chosen=f"{t} chosen {i}",
            rejected=f"{t} rejected {i}",
            judgments=[
                JudgmentSpec(kind="human", annotator="h1"),
                JudgmentSpec(kind="ai", judge="j", prob_chosen=0.1 + i / 40),
            ],
        )
        for i, t in enumerate(TRICKY * 3)
    ]
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(recs)
    snap = create_snapshot(engine, name="fmt", policy="soft", test_fraction=0.3)
    assert snap.n_train and snap.n_test
    out = tmp_path / "out"
    manifest = export_snapshot(
        engine, name="fmt", fmt="trl", out_dir=out, conversational=conversational
    )
    for split in ("train", "test"):
        expected = "".join(
            json.dumps({k: v for k, v in ex.items() if k != "split"}, ensure_ascii=False) + "\n"
            for ex in iter_examples(engine, snap.id, split=split, conversational=conversational)
        )
        written = (out / f"{split}.jsonl").read_text(encoding="utf-8")
        assert written == expected
        assert manifest["files"][f"{split}.jsonl"]["rows"] == written.count("\n")
        assert all(not math.isnan(json.loads(x)["score"]) for x in written.split("\n")[:-1])
    assert list(manifest["files"]) == ["train.jsonl", "test.jsonl"]
    assert verify_export(out, engine=engine).ok
