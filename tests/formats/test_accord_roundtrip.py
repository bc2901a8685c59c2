"""accord JSONL is lossless: a store exported, imported into an empty store and exported
again gives the same file, the same content hashes and the same judgment history."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from accord.data import sample_path
from accord.formats.accord_jsonl import bundle_from_line
from accord.formats.accord_writer import write_accord_jsonl
from accord.formats.base import FieldError, InvalidRecordError
from accord.importer import import_file
from accord.store.crud.annotators import get_or_create_annotator
from accord.store.crud.constitutions import upsert_constitution
from accord.store.crud.judgments import upsert_judgment
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope
from accord.store.models import Judgment, JudgmentRevision, Pair, Prompt, Response


def build_store(engine) -> None:
    """The sample, plus a critique-revise lineage under a constitution, AI judgments in both
    orders with rationale and raw output, and a human answer changed twice (history)."""
    import_file(engine, sample_path("sample_preferences.jsonl"), fmt="trl")
    with session_scope(engine) as s:
        const = upsert_constitution(
            s,
            name="helpful",
            version="1",
            content_hash="c" * 64,
            text="principles: [...]",
            description="test",
        )
        prompt = upsert_prompt(
            s,
            text="",
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Tips for sleep?"},
            ],
            source="rlaif",
            meta={"topic": "health"},
        )
        initial = upsert_response(
            s,
            prompt=prompt,
            text="Sleep.",
            model_id="tiny-gpt",
            backend="transformers",
            sampling_params={"temperature": 0.7},
            usage={"completion_tokens": 2},
            finish_reason="stop",
        )
        critique = upsert_response(
            s,
            prompt=prompt,
            text="Too short.",
            role="critique",
            parent=initial,
            model_id="tiny-gpt",
            constitution_id=const.id,
            principle="helpful",
            round=1,
            raw_output="CRITIQUE: Too short.",
        )
        revision = upsert_response(
            s,
            prompt=prompt,
            text="Keep a regular bedtime.",
            role="revision",
            parent=critique,
            model_id="tiny-gpt",
            constitution_id=const.id,
            principle="helpful",
            round=1,
        )
        pair = upsert_pair(s, response_x=initial, response_y=revision, source="rlaif")
        for order, prob in (("ab", 0.2), ("ba", 0.3)):
            upsert_judgment(
                s,
                pair=pair,
                kind="ai",
                judge="tiny-judge",
                preferred="b",
                prob_a=prob,
                presentation_order=order,
                principle="helpful",
                constitution_hash=const.content_hash,
                constitution_id=const.id,
                judge_backend="transformers",
                rationale="more useful",
                raw_output="Answer: B",
                meta={"logprobs": [-0.1, -2.3]},
            )
        upsert_judgment(
            s,
            pair=pair,
            kind="ai",
            judge="tiny-judge",
            preferred="b",
            prob_a=0.25,
            presentation_order="agg",
            is_aggregate=True,
            principle="helpful",
            constitution_hash=const.content_hash,
        )
        ann = get_or_create_annotator(s, username="carol", source="argilla", external_id="u-1")
        for preferred, strength in (("a", 1), ("tie", None), ("b", 3)):
            upsert_judgment(
                s,
                pair=pair,
                kind="human",
                judge="carol",
                preferred=preferred,
                strength=strength,
                annotator_id=ann.id,
                external_id="rec-9",
            )


def hashes(engine) -> dict[str, set[str]]:
    with session_scope(engine) as s:
        return {
            "prompts": set(s.scalars(select(Prompt.content_hash))),
            "responses": set(s.scalars(select(Response.content_hash))),
            "pairs": set(s.scalars(select(Pair.content_hash))),
            "judgments": set(s.scalars(select(Judgment.key_hash))),
            "history": {(r.preferred, r.strength) for r in s.scalars(select(JudgmentRevision))},
        }


def test_export_import_export_is_identical(db_url, tmp_path):
    source = open_store(db_url)
    build_store(source)
    first = tmp_path / "store.jsonl"
    assert write_accord_jsonl(source, first) == 41
    target = open_store(f"sqlite:///{tmp_path / 'copy.db'}")
    report = import_file(target, first, fmt="accord")
    assert report.new["pairs"] == 41 and report.new["responses"] == 83
    assert report.new["annotators"] == 1
    assert hashes(target) == hashes(source)
    assert hashes(source)["history"] == {("a", 1), ("tie", None)}
    second = tmp_path / "copy.jsonl"
    write_accord_jsonl(target, second)
    assert second.read_text() == first.read_text()
    assert import_file(target, first, fmt="accord").already_present
    # A subset by pair id.
    with session_scope(source) as s:
        some = list(s.scalars(select(Pair.id).order_by(Pair.id).limit(3)))
    assert write_accord_jsonl(source, tmp_path / "some.jsonl", pair_ids=some) == 3


def test_lineage_and_constitution_survive(tmp_path):
    source = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    build_store(source)
    write_accord_jsonl(source, tmp_path / "x.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "x.jsonl").read_text().splitlines()]
    [rlaif] = [x for x in lines if x["pair"]["source"] == "rlaif"]
    revision = (
        rlaif["response_a"] if rlaif["response_a"]["role"] == "revision" else rlaif["response_b"]
    )
    assert revision["parent"]["role"] == "critique"
    assert revision["parent"]["parent"]["role"] == "initial"
    assert [c["name"] for c in rlaif["constitutions"]] == ["helpful"]
    target = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    import_file(target, tmp_path / "x.jsonl", fmt="accord")
    with session_scope(target) as s:
        rev = s.scalars(select(Response).where(Response.role == "revision")).one()
        crit = s.get(Response, rev.parent_id)
        assert (crit.role, crit.raw_output, crit.constitution_id is not None) == (
            "critique",
            "CRITIQUE: Too short.",
            True,
        )
        agg = s.scalars(select(Judgment).where(Judgment.is_aggregate)).one()
        assert agg.constitution_id is not None and agg.prob_a == 0.25


def test_hand_written_line_with_sides_reversed_is_flipped():
    line = {
        "prompt": "Q",
        "response_a": "x",
        "response_b": "y",
        "judgments": [
            {
                "kind": "ai",
                "judge": "m",
                "preferred": "a",
                "prob_a": 0.9,
                "presentation_order": "ab",
            }
        ],
    }
    bundle = bundle_from_line(line)
    swapped = bundle_from_line(
        {
            **line,
            "response_a": "y",
            "response_b": "x",
            "judgments": [
                {
                    "kind": "ai",
                    "judge": "m",
                    "preferred": "b",
                    "prob_a": 0.1,
                    "presentation_order": "ba",
                }
            ],
        }
    )
    assert swapped.judgments[0]["key_hash"] == bundle.judgments[0]["key_hash"]
    for field in ("preferred", "presentation_order"):
        assert swapped.judgments[0][field] == bundle.judgments[0][field]
    assert swapped.judgments[0]["prob_a"] == pytest.approx(bundle.judgments[0]["prob_a"])


@pytest.mark.parametrize(
    "line, field",
    [
        (
            {
                "prompt": {"text": "Q", "content_hash": "0" * 64},
                "response_a": "x",
                "response_b": "y",
            },
            "prompt.content_hash",
        ),
        (
            {"prompt": "Q", "response_a": {"text": "x", "role": "draft"}, "response_b": "y"},
            "response_a.role",
        ),
        ({"prompt": "Q", "response_a": "x"}, "response_b"),
        (
            {"prompt": "Q", "response_a": "x", "response_b": "y", "judgments": [{"judge": "m"}]},
            "judgments[0].kind",
        ),
        (
            {
                "prompt": "Q",
                "response_a": "x",
                "response_b": "y",
                "judgments": [{"kind": "ai", "judge": "m", "preferred": "c"}],
            },
            "judgments[0]",
        ),
        (
            {
                "prompt": "Q",
                "response_a": "x",
                "response_b": "y",
                "judgments": [{"kind": "ai", "judge": "m", "preferred": "a", "prob_a": 2}],
            },
            "judgments[0]",
        ),
        (
            {"prompt": "Q", "response_a": "x", "response_b": {"text": "y", "parent": 5}},
            "response_b.parent",
        ),
    ],
)
def test_bad_accord_lines(line, field):
    with pytest.raises(FieldError) as info:
        bundle_from_line(line)
    assert info.value.field == field


def test_edited_export_is_rejected_with_its_line(tmp_path):
    source = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    import_file(source, sample_path("sample_preferences.jsonl"), fmt="trl")
    path = tmp_path / "x.jsonl"
    write_accord_jsonl(source, path)
    lines = path.read_text().splitlines()
    edited = json.loads(lines[4])
    edited["response_a"]["text"] += " (edited)"
    lines[4] = json.dumps(edited)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidRecordError) as info:
        import_file(open_store(f"sqlite:///{tmp_path / 'b.db'}"), path, fmt="accord")
    assert (info.value.line, info.value.field) == (5, "response_a.content_hash")
