"""Each format's reader: what a row becomes, and the file/line/field of what it rejects."""

from __future__ import annotations

import json
import math

import pytest

from accord.formats.base import InvalidRecordError
from accord.formats.hh_rlhf import parse_transcript, split_transcripts
from accord.formats.registry import format_name, read_records


def write_jsonl(path, rows, raw_lines=()):
    with open(path, "wb") as f:
        f.writelines(json.dumps(row).encode() + b"\n" for row in rows)
        f.writelines(line + b"\n" for line in raw_lines)
    return path


def records(path, fmt, **kw):
    items = list(read_records(path, fmt, **kw))
    errors = [i.error for i in items if i.error]
    assert not errors, errors
    return [i.value for i in items]


def only_error(path, fmt, **kw) -> InvalidRecordError:
    errors = [i.error for i in read_records(path, fmt, **kw) if i.error]
    assert len(errors) == 1, errors
    return errors[0]


# --- trl ----------------------------------------------------------------------------------


def test_trl_plain_text_explicit_prompt(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "2+2?", "chosen": "4", "rejected": "5"}])
    [rec] = records(path, "trl")
    assert (rec.prompt, rec.chosen, rec.rejected) == ("2+2?", "4", "5")
    assert rec.prompt_messages is None and rec.source == "p.jsonl"
    [j] = rec.judgments
    assert (j.kind, j.judge, j.prob_chosen, j.annotator) == ("human", "import:p.jsonl", None, None)


def test_trl_plain_text_implicit_prompt_splits_at_white_space(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"chosen": "The sky is blue.", "rejected": "The sky is bleak."}]
    )
    [rec] = records(path, "trl")
    assert (rec.prompt, rec.chosen, rec.rejected) == ("The sky is", " blue.", " bleak.")


def test_trl_conversational_explicit_and_implicit(tmp_path):
    user = {"role": "user", "content": "What color is the sky?"}
    good = {"role": "assistant", "content": "It is blue."}
    bad = {"role": "assistant", "content": "It is green."}
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"prompt": [user], "chosen": [good], "rejected": [bad]},
            {"chosen": [user, good], "rejected": [user, bad]},
            # multi-turn implicit: the shared turns are the prompt
            {
                "chosen": [user, good, {"role": "user", "content": "Sure?"}, good],
                "rejected": [user, good, {"role": "user", "content": "Sure?"}, bad],
            },
        ],
    )
    first, second, third = records(path, "trl")
    for rec in (first, second):
        assert rec.prompt_messages == [user]
        assert rec.prompt == "What color is the sky?"
        assert (rec.chosen, rec.rejected) == ("It is blue.", "It is green.")
        assert rec.chosen_messages == [good]
    assert len(third.prompt_messages) == 3 and third.chosen == "It is blue."
    assert third.prompt.startswith("user: What color")


def test_trl_soft_labels_ties_annotator_and_models(tmp_path):
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"prompt": "q", "chosen": "a", "rejected": "b", "score": 0.8},
            {
                "prompt": "q",
                "chosen": "a",
                "rejected": "b",
                "label_strength": 0.6,
                "annotator": "ann",
            },
            {"prompt": "q", "chosen": "a", "rejected": "b", "prob_chosen": 0.7, "tie": True},
            {
                "prompt": "q",
                "chosen": "same",
                "rejected": "same",
                "chosen_model": "m1",
                "rejected_model": "m2",
            },
        ],
    )
    a, b, c, d = records(path, "trl", label_kind="ai")
    assert a.judgments[0].prob_chosen == 0.8 and a.judgments[0].kind == "ai"
    assert b.judgments[0].judge == "ann" and b.judgments[0].annotator is None  # AI: no annotator
    assert c.judgments[0].tie is True
    assert (d.chosen_model, d.rejected_model) == ("m1", "m2")
    [human] = records(path, "trl")[1:2]
    assert human.judgments[0].annotator == "ann"


@pytest.mark.parametrize(
    "row, field",
    [
        ({"prompt": "q", "chosen": "a"}, "rejected"),
        ({"prompt": "q", "chosen": 3, "rejected": "b"}, "chosen"),
        ({"prompt": "q", "chosen": "  ", "rejected": "b"}, "chosen"),
        ({"prompt": "", "chosen": "a", "rejected": "b"}, "prompt"),
        ({"prompt": "q", "chosen": "a", "rejected": "a"}, "rejected"),
        ({"prompt": "q", "chosen": "a", "rejected": "b", "score": 1.5}, "score"),
        ({"prompt": "q", "chosen": "a", "rejected": "b", "prob": "high"}, "prob"),
        ({"prompt": "q", "chosen": "a", "rejected": "b", "tie": "yes"}, "tie"),
        ({"prompt": "q", "chosen": [{"role": "assistant"}], "rejected": "b"}, "chosen[0].content"),
        ({"prompt": "q", "chosen": "a\x00", "rejected": "b"}, "chosen"),
        ({"chosen": "Alpha", "rejected": "Beta"}, "chosen"),
    ],
)
def test_trl_bad_rows_name_the_field(tmp_path, row, field):
    path = write_jsonl(
        tmp_path / "bad.jsonl", [{"prompt": "ok", "chosen": "1", "rejected": "2"}, row]
    )
    err = only_error(path, "trl")
    assert (err.file, err.line, err.field) == (str(path), 2, field)
    assert f"bad.jsonl:2: field {field!r}" in str(err)


def test_bad_json_and_invalid_utf8_and_non_objects(tmp_path):
    path = write_jsonl(
        tmp_path / "b.jsonl",
        [{"prompt": "q", "chosen": "a", "rejected": "b"}],
        raw_lines=[b'{"prompt": "q", "chosen": ', b'{"prompt": "\xff\xfe"}', b"[1, 2]", b""],
    )
    errors = [i.error for i in read_records(path, "trl") if i.error]
    assert [(e.line, e.field) for e in errors] == [(2, "<json>"), (3, "<line>"), (4, "<json>")]
    assert "not valid UTF-8" in errors[1].reason


# --- hh-rlhf ------------------------------------------------------------------------------


def test_hh_rlhf_splits_the_shared_multi_turn_prompt(tmp_path):
    shared = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Name a fruit"
    path = write_jsonl(
        tmp_path / "hh.jsonl",
        [
            {
                "chosen": shared + "\n\nAssistant: An apple.",
                "rejected": shared + "\n\nAssistant: A rock.",
            },
            {
                "chosen": "\n\nHuman: Say hi\n\nAssistant: Hi!",
                "rejected": "\n\nHuman: Say hi\n\nAssistant: No.",
            },
        ],
    )
    multi, single = records(path, "hh-rlhf")
    assert multi.prompt_messages == [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Name a fruit"},
    ]
    assert (multi.chosen, multi.rejected) == ("An apple.", "A rock.")
    assert multi.chosen_messages == [{"role": "assistant", "content": "An apple."}]
    assert single.prompt == "Say hi" and single.prompt_messages == [
        {"role": "user", "content": "Say hi"}
    ]


def test_hh_rlhf_shared_prefix_ends_at_last_assistant_marker():
    # Both replies start with "I" — the prompt must still end at "\n\nAssistant:".
    prompt, chosen, rejected = split_transcripts(
        "\n\nHuman: Q\n\nAssistant: I agree", "\n\nHuman: Q\n\nAssistant: I refuse"
    )
    assert prompt == "\n\nHuman: Q\n\nAssistant:" and (chosen, rejected) == ("I agree", "I refuse")
    assert parse_transcript("\n\nHuman: a\n\nAssistant: b", "x")[1] == {
        "role": "assistant",
        "content": "b",
    }


@pytest.mark.parametrize(
    "row, field",
    [
        ({"chosen": "Hi", "rejected": "Ho"}, "chosen"),
        (
            {"chosen": "\n\nHuman: Q\n\nAssistant: A", "rejected": "\n\nHuman: Q\n\nAssistant:   "},
            "rejected",
        ),
        ({"chosen": "\n\nHuman: Q\n\nAssistant: A"}, "rejected"),
        (
            {"chosen": "\n\nHuman: Q\n\nAssistant: A", "rejected": "\n\nHuman: Q\n\nAssistant: A"},
            "rejected",
        ),
    ],
)
def test_hh_rlhf_bad_rows(tmp_path, row, field):
    path = write_jsonl(tmp_path / "hh.jsonl", [row])
    assert only_error(path, "hh-rlhf").field == field


# --- ultrafeedback ------------------------------------------------------------------------


def uf_row(sc=8.0, sr=6.0, **extra):
    q = "Write a haiku about rain."
    return {
        "prompt": q,
        "prompt_id": "abc",
        "chosen": [
            {"role": "user", "content": q},
            {"role": "assistant", "content": "Soft rain falls"},
        ],
        "rejected": [{"role": "user", "content": q}, {"role": "assistant", "content": "Rain."}],
        "messages": [],
        "score_chosen": sc,
        "score_rejected": sr,
        **extra,
    }


def test_ultrafeedback_hard_and_bradley_terry_soft(tmp_path):
    path = write_jsonl(tmp_path / "uf.jsonl", [uf_row(), uf_row(7.0, 7.0)])
    hard, tie_hard = records(path, "ultrafeedback", label_kind="ai")
    assert hard.prompt == "Write a haiku about rain." and hard.chosen == "Soft rain falls"
    assert hard.prompt_meta == {"prompt_id": "abc"}
    assert hard.judgments[0].prob_chosen is None and hard.judgments[0].kind == "ai"
    assert hard.judgments[0].meta == {"score_chosen": 8.0, "score_rejected": 6.0}
    assert tie_hard.judgments[0].prob_chosen is None  # the dataset's binarization is kept
    soft, tie = records(path, "ultrafeedback-binarized", soft_labels=True)
    assert math.isclose(soft.judgments[0].prob_chosen, 1 / (1 + math.exp(-2)))
    assert tie.judgments[0].prob_chosen == 0.5


def test_ultrafeedback_missing_score(tmp_path):
    row = uf_row()
    del row["score_rejected"]
    path = write_jsonl(tmp_path / "uf.jsonl", [row])
    assert only_error(path, "ultrafeedback-binarized").field == "score_rejected"


# --- csv ----------------------------------------------------------------------------------


def test_csv_columns_multiline_cells_and_errors(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(
        b"prompt,chosen,rejected,score,annotator,kind\n"
        b'"2+2?",4,5,0.9,ann,\n'
        b'"Write two lines","one\ntwo",one,,,ai\n'
        b"q,a,b,2,,\n"
        b"q,a,,,,\n"
        b"q,a,b,,,robot\n"
        b"q,\xff,b,,,\n"
        b"q,a,b\n"
    )
    items = list(read_records(path, "csv"))
    first, second = items[0].value, items[1].value
    assert first.judgments[0].prob_chosen == 0.9 and first.judgments[0].annotator == "ann"
    assert second.chosen == "one\ntwo" and second.judgments[0].kind == "ai"
    assert [(i.line, i.error.field) for i in items[2:]] == [
        (5, "score"),
        (6, "rejected"),
        (7, "kind"),
        (8, "<line>"),
        (9, "<csv>"),
    ]


def test_csv_without_required_columns_fails_at_the_header(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("question,good,bad\nq,a,b\n")
    with pytest.raises(InvalidRecordError, match="missing columns"):
        list(read_records(path, "csv"))


# --- registry -----------------------------------------------------------------------------


def test_unknown_format_and_aliases():
    assert format_name("ultrafeedback") == "ultrafeedback-binarized"
    with pytest.raises(ValueError, match="unknown format"):
        format_name("yaml")


def test_readers_are_lazy(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [{"prompt": "q", "chosen": "a", "rejected": "b"}] * 3,
        raw_lines=[b"garbage"],
    )
    items = read_records(path, "trl")
    assert next(items).line == 1  # nothing past the first line had to be read


def test_gzipped_jsonl_is_read_line_by_line(tmp_path):
    import gzip

    path = tmp_path / "p.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n")
    [item] = read_records(path, "trl")
    assert item.value.chosen == "a" and 0 < item.position <= path.stat().st_size
