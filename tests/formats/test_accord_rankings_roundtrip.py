"""accord JSONL carries rankings losslessly: who ranked, the shown order, ties, scores and
meta, and the expanded judgments linked to their ranking with their history. Export →
import into an empty store gives the same rankings and the same expanded judgments, and
exporting the copy gives the same file."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from accord.data import sample_path
from accord.formats.accord_rankings import ranking_from_line
from accord.formats.accord_writer import write_accord_jsonl
from accord.formats.base import FieldError, InvalidRecordError
from accord.importer import import_file
from accord.store.crud.annotators import get_or_create_annotator
from accord.store.crud.constitutions import upsert_constitution
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.rankings import upsert_ranking
from accord.store.crud.responses import upsert_response
from accord.store.db import open_store, session_scope
from accord.store.models import (
    Annotator,
    Judgment,
    JudgmentRevision,
    Pair,
    Prompt,
    Ranking,
    Response,
)


def build_store(engine) -> None:
    """Plain pairs (the sample), two annotators' rankings of 4 responses (ties, shown
    orders, one changed afterwards), and an AI ranking with scores, meta and a constitution."""
    import_file(engine, sample_path("sample_preferences.jsonl"), fmt="trl")
    with session_scope(engine) as s:
        prompt = upsert_prompt(s, text="Name a colour", source="ranks")
        rs = [upsert_response(s, prompt=prompt, text=t) for t in ("red", "car", "blue", "sky")]
        for name, ranks, shown in (
            ("ann", [1, 4, 1, 3], [2, 0, 3, 1]),
            ("bob", [2, 4, 1, 3], []),
        ):
            user = get_or_create_annotator(
                s, username=name, source="argilla", is_gold=name == "bob"
            )
            upsert_ranking(
                s,
                prompt=prompt,
                responses=rs,
                ranks=ranks,
                kind="human",
                judge=name,
                annotator_id=user.id,
                shown_order=[rs[i] for i in shown],
                rationale="car is no colour" if name == "ann" else None,
                source="argilla:ranks",
                external_id=f"{name}-1",
            )
        # ann changes her mind: the ranking and its judgments keep the earlier answers
        upsert_ranking(
            s,
            prompt=prompt,
            responses=rs,
            ranks=[1, 4, 2, 3],
            kind="human",
            judge="ann",
            shown_order=[rs[i] for i in (2, 0, 3, 1)],
            source="argilla:ranks",
        )
        const = upsert_constitution(
            s, name="tiny", version="1", content_hash="d" * 64, text="principles: [...]"
        )
        upsert_ranking(
            s,
            prompt=prompt,
            responses=rs[:3],
            ranks=[1, 3, 2],
            scores=[0.7, -0.9, 0.2],
            kind="ai",
            judge="accord/tiny",
            principle="*ensemble*",
            constitution_hash=const.content_hash,
            constitution_id=const.id,
            judge_backend="transformers",
            method="listwise",
            source="rank",
            meta={
                "method": "listwise",
                "presentations": [{"order": "forward", "shown": [0, 1, 2]}],
            },
        )


def snapshot_of(engine) -> dict:
    """Everything a ranking and its expanded judgments are, by content (no row ids)."""
    with session_scope(engine) as s:
        hashes = dict(s.execute(select(Response.id, Response.content_hash)).all())
        pair_hashes = dict(s.execute(select(Pair.id, Pair.content_hash)).all())
        prompts = dict(s.execute(select(Prompt.id, Prompt.content_hash)).all())
        users = {a.id: (a.username, a.source, a.is_gold) for a in s.scalars(select(Annotator))}
        keys = dict(s.execute(select(Ranking.id, Ranking.key_hash)).all())
        rankings = {
            r.key_hash: (
                prompts[r.prompt_id],
                r.group_key,
                r.kind,
                r.judge,
                r.principle,
                r.k,
                [hashes[i] for i in r.response_ids],
                r.ranks,
                [hashes[i] for i in r.shown_order],
                r.scores,
                r.status,
                r.rationale,
                r.source,
                r.external_id,
                r.judge_backend,
                r.method,
                r.constitution_hash,
                r.constitution_id is not None,
                users.get(r.annotator_id),
                r.meta,
            )
            for r in s.scalars(select(Ranking))
        }
        expanded = {
            j.key_hash: (
                pair_hashes[j.pair_id],
                keys[j.ranking_id],
                j.preferred,
                j.prob_a,
                j.presentation_order,
                j.principle,
                j.constitution_id is not None,
                users.get(j.annotator_id),
                j.status,
            )
            for j in s.scalars(select(Judgment).where(Judgment.ranking_id.is_not(None)))
        }
        history = sorted(
            (s.get(Judgment, h.judgment_id).key_hash, h.preferred)
            for h in s.scalars(select(JudgmentRevision))
        )
        unlinked = s.scalar(
            select(Judgment.id).where(Judgment.ranking_id.is_(None)).limit(1).order_by(Judgment.id)
        )
    return {"rankings": rankings, "expanded": expanded, "history": history, "plain": unlinked}


def test_rankings_survive_export_and_import(db_url, tmp_path):
    source = open_store(db_url)
    build_store(source)
    before = snapshot_of(source)
    assert len(before["rankings"]) == 3 and len(before["expanded"]) == 6 + 6 + 3
    assert before["history"]  # ann's changed ranking left earlier answers
    first = tmp_path / "store.jsonl"
    lines = write_accord_jsonl(source, first)
    rows = [json.loads(x) for x in first.read_text().splitlines()]
    assert (
        lines == len(rows)
        and [("ranking" in r and "prompt" not in r) for r in rows[-3:]] == [True] * 3
    )
    target = open_store(f"sqlite:///{tmp_path / 'copy.db'}")
    report = import_file(target, first, fmt="accord")
    assert report.rankings == 3 and report.records == len(rows)
    after = snapshot_of(target)
    assert after["rankings"] == before["rankings"]
    assert after["expanded"] == before["expanded"]
    assert after["history"] == before["history"]
    second = tmp_path / "copy.jsonl"
    write_accord_jsonl(target, second)
    assert second.read_text() == first.read_text()
    again = import_file(target, first, fmt="accord")
    assert again.already_present and again.rankings == 0
    assert snapshot_of(target) == after


def test_a_partial_export_leaves_out_rankings_it_cannot_rebuild(tmp_path):
    source = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    build_store(source)
    with session_scope(source) as s:
        ai = s.scalars(select(Ranking).where(Ranking.kind == "ai")).one()
        pair_ids = sorted(
            {j.pair_id for j in s.scalars(select(Judgment).where(Judgment.ranking_id == ai.id))}
        )
    path = tmp_path / "some.jsonl"
    # the AI ranking's 3 pairs hold it whole; the human rankings' 6 pairs are cut to 3
    assert write_accord_jsonl(source, path, pair_ids=pair_ids) == 3 + 1
    target = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    assert import_file(target, path, fmt="accord").rankings == 1
    with session_scope(target) as s:
        (ranking,) = s.scalars(select(Ranking)).all()
        assert ranking.kind == "ai" and ranking.scores is not None
        linked = s.scalars(select(Judgment).where(Judgment.ranking_id == ranking.id)).all()
        assert len(linked) == 3
        # the human rankings' judgments came without their ranking: kept, keys intact
        loose = s.scalars(
            select(Judgment).where(Judgment.ranking_id.is_(None), Judgment.kind == "human")
        ).all()
        assert len(loose) == 2 * 3


def test_bad_ranking_lines_name_their_field(tmp_path):
    good = {
        "prompt": "a" * 64,
        "responses": ["b" * 64, "c" * 64],
        "ranks": [1, 1],
        "kind": "human",
        "judge": "ann",
    }
    assert ranking_from_line({"ranking": good}).ranks == [1, 1]
    for change, field in (
        ({"responses": ["b" * 64]}, "ranking.responses"),
        ({"ranks": [1, 0]}, "ranking.ranks"),
        ({"kind": "robot"}, "ranking.kind"),
        ({"scores": [1.0, "x"]}, "ranking.scores"),
        ({"shown_order": ["b" * 64, "d" * 64]}, "ranking.shown_order"),
        ({"key_hash": "0" * 64}, "ranking.key_hash"),
        ({"prompt": "short"}, "ranking.prompt"),
    ):
        with pytest.raises(FieldError) as info:
            ranking_from_line({"ranking": {**good, **change}})
        assert info.value.field == field
    # a ranking line whose responses are in neither the file nor the store
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"accord": 1, "ranking": good}) + "\n")
    with pytest.raises(InvalidRecordError) as err:
        import_file(open_store(f"sqlite:///{tmp_path / 'c.db'}"), path, fmt="accord")
    assert (err.value.line, err.value.field) == (1, "ranking.responses")


def test_a_ranking_line_written_before_rankings_had_a_method_keeps_its_key(tmp_path):
    """A file exported before ``method`` existed has AI ranking lines without it, their keys
    computed without it: they import as they were, and the same line with a method is another
    ranking, whose given key must include the method."""
    source = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    build_store(source)
    path = tmp_path / "store.jsonl"
    write_accord_jsonl(source, path)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    [ai] = [r for r in rows if r.get("ranking", {}).get("kind") == "ai"]
    line = dict(ai["ranking"])
    assert line.pop("method") == "listwise"
    with pytest.raises(FieldError, match="ranking.key_hash"):
        ranking_from_line({"ranking": line})  # the key was computed with the method
    line.pop("key_hash")
    old = ranking_from_line({"ranking": line})
    new = ranking_from_line({"ranking": {**line, "method": "listwise"}})
    assert old.method == "" and new.method == "listwise"
    assert old.key_hash != new.key_hash == ai["ranking"]["key_hash"]


def _as_written_before_rankings_had_a_method(path, old_path) -> None:
    """The file ``path`` as accord wrote it before 0011: AI ranking lines without ``method``
    and with method-less keys, their expanded judgments keyed by those."""
    from accord.store.keys import judgment_key, ranking_key

    rows = [json.loads(x) for x in path.read_text().splitlines()]
    renamed = {}
    for row in rows:
        r = row.get("ranking")
        if isinstance(r, dict) and r.pop("method", ""):
            old = ranking_key(
                r["group_key"],
                r["judge"],
                kind=r["kind"],
                principle=r["principle"],
                constitution_hash=r["constitution_hash"],
            )
            renamed[r["key_hash"]], r["key_hash"] = old, old
    for row in rows:
        for j in row.get("judgments", []):
            if j.get("ranking") in renamed:
                j["ranking"] = renamed[j["ranking"]]
                j["key_hash"] = judgment_key(
                    row["pair"]["content_hash"],
                    j["judge"],
                    kind=j["kind"],
                    presentation_order=j.get("presentation_order") or "",
                    principle=j.get("principle") or "",
                    constitution_hash=j.get("constitution_hash") or "",
                    ranking_key=j["ranking"],
                )
    assert renamed
    old_path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_an_export_from_before_ranking_methods_finds_its_rows_in_a_migrated_store(db_url, tmp_path):
    """An old backup restored into a migrated store adds nothing, and imported into an empty
    store gives the rankings and judgments the migrated store has (method and keys)."""
    source = open_store(db_url)
    build_store(source)
    before = snapshot_of(source)
    new_file, old_file = tmp_path / "new.jsonl", tmp_path / "old.jsonl"
    write_accord_jsonl(source, new_file)
    _as_written_before_rankings_had_a_method(new_file, old_file)
    again = import_file(source, old_file, fmt="accord")
    assert again.rankings == 0 and again.invalid == 0
    assert snapshot_of(source) == before
    target = open_store(f"sqlite:///{tmp_path / 'copy.db'}")
    report = import_file(target, old_file, fmt="accord")
    assert report.rankings == 3 and report.invalid == 0
    assert snapshot_of(target) == before
    copy = tmp_path / "copy.jsonl"
    write_accord_jsonl(target, copy)
    assert copy.read_text() == new_file.read_text()


def test_a_ranking_line_with_a_method_it_cannot_have_is_refused():
    line = {
        "prompt": "a" * 64,
        "responses": ["c" * 64, "b" * 64],
        "ranks": [2, 1],
        "kind": "human",
        "judge": "ann",
        "method": "listwise",
    }
    with pytest.raises(FieldError, match="ranking.method"):
        ranking_from_line({"ranking": line})
    with pytest.raises(FieldError, match="ranking.method"):
        ranking_from_line({"ranking": {**line, "kind": "ai", "method": "borda"}})
