"""The store's one write path (``accord.store.ingest``) on SQLite and a real PostgreSQL:
idempotency, lineage, constitutions, judgment history, the kind in the judgment key, the
refusal to relabel, batch bounds, and rows read back through the ORM as it writes them."""

from __future__ import annotations

import gc

import pytest
from sqlmodel import func, select

from accord.formats.accord_jsonl import bundle_from_line
from accord.hashing import content_hash
from accord.store.bundles import bundle_from_preference
from accord.store.crud.judgments import judgment_history, upsert_judgment
from accord.store.db import session_scope
from accord.store.ingest import (
    IngestCounts,
    JudgmentSpec,
    PreferenceIngestor,
    PreferenceRecord,
    StoreIngestor,
)
from accord.store.keys import judgment_key
from accord.store.models import (
    ConstitutionRow,
    Judgment,
    JudgmentRevision,
    Pair,
    Prompt,
    Response,
)

CONSTITUTION = {
    "name": "helpful",
    "version": "1",
    "content_hash": "c" * 64,
    "text": "principles: [be helpful]",
    "description": "",
}


def lineage_line(i: int, *, prob_a: float = 0.2, history: list | None = None) -> dict:
    """A pair whose response_b is a revision of a critique of an initial answer."""
    initial = {"text": f"Sleep {i}.", "model_id": "tiny-gpt"}
    critique = {
        "text": f"Too short {i}.",
        "role": "critique",
        "parent": initial,
        "constitution_hash": "c" * 64,
        "principle": "helpful",
        "round": 1,
    }
    revision = {
        "text": f"Keep a regular bedtime {i}.",
        "role": "revision",
        "parent": critique,
        "constitution_hash": "c" * 64,
        "principle": "helpful",
        "round": 1,
    }
    return {
        "prompt": {"text": f"Tips for sleep {i}?", "source": "rlaif"},
        "response_a": {"text": f"Sleep {i}.", "model_id": "tiny-gpt"},
        "response_b": revision,
        "constitutions": [CONSTITUTION],
        "judgments": [
            {
                "kind": "ai",
                "judge": "tiny-judge",
                "preferred": "b",
                "prob_a": prob_a,
                "presentation_order": "ab",
                "principle": "helpful",
                "constitution_hash": "c" * 64,
                "rationale": "more useful",
            },
            {
                "kind": "human",
                "judge": "carol",
                "preferred": "b",
                "annotator": {"username": "carol", "source": "argilla"},
                "history": history or [],
            },
        ],
    }


def ingest(engine, bundles, **kw) -> IngestCounts:
    with session_scope(engine) as s:
        return StoreIngestor(s, **kw).ingest(bundles)


def count(engine, model) -> int:
    with session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_lineage_constitutions_and_idempotency(engine):
    first = ingest(engine, [bundle_from_line(lineage_line(i)) for i in range(5)], batch_size=2)
    assert first.as_dict() == {
        "prompts": 5,
        "responses": 15,
        "pairs": 5,
        "judgments": 10,
        "updated": 0,
        "unchanged": 0,
        "records": 5,
        "annotators": 1,
    }
    again = ingest(engine, [bundle_from_line(lineage_line(i)) for i in range(5)], batch_size=3)
    assert again.as_dict() == {
        "prompts": 0,
        "responses": 0,
        "pairs": 0,
        "judgments": 0,
        "updated": 0,
        "unchanged": 10,
        "records": 5,
        "annotators": 0,
    }
    with session_scope(engine) as s:
        const = s.exec(select(ConstitutionRow)).one()
        rev = s.exec(
            select(Response).where(
                Response.role == "revision", Response.text == "Keep a regular bedtime 3."
            )
        ).one()
        crit = s.get(Response, rev.parent_id)
        initial = s.get(Response, crit.parent_id)
        assert (crit.role, initial.role, initial.parent_id) == ("critique", "initial", None)
        assert rev.constitution_id == crit.constitution_id == const.id
        ai = s.exec(select(Judgment).where(Judgment.kind == "ai")).first()
        assert (ai.constitution_id, ai.rationale, ai.principle) == (
            const.id,
            "more useful",
            "helpful",
        )


def test_changed_answer_is_updated_and_the_old_one_kept(engine):
    ingest(engine, [bundle_from_line(lineage_line(0, prob_a=0.2))])
    with session_scope(engine) as s:
        before = s.exec(select(Judgment).where(Judgment.kind == "ai")).one()
        first_updated_at = before.updated_at
    counts = ingest(
        engine, [bundle_from_line(lineage_line(0, prob_a=0.9)), bundle_from_line(lineage_line(1))]
    )
    assert (counts.judgments, counts.updated, counts.unchanged, counts.pairs) == (2, 1, 1, 1)
    with session_scope(engine) as s:
        ai = s.exec(select(Judgment).where(Judgment.kind == "ai", Judgment.id == before.id)).one()
        [old] = judgment_history(s, judgment_id=ai.id)
        assert (ai.prob_a, old.prob_a, old.preferred) == (0.9, 0.2, "b")
        assert old.valid_from == first_updated_at and ai.updated_at > first_updated_at
        assert old.rationale == "more useful" and old.status == "submitted"


def test_history_carried_by_a_bundle_becomes_revisions(engine):
    history = [
        {
            "preferred": "a",
            "strength": 1,
            "valid_from": "2025-01-01T00:00:00+00:00",
            "replaced_at": "2025-01-02T00:00:00+00:00",
        },
        {
            "preferred": "tie",
            "valid_from": "2025-01-02T00:00:00+00:00",
            "replaced_at": "2025-01-03T00:00:00+00:00",
        },
    ]
    ingest(engine, [bundle_from_line(lineage_line(0, history=history))])
    with session_scope(engine) as s:
        human = s.exec(select(Judgment).where(Judgment.kind == "human")).one()
        revs = judgment_history(s, judgment_id=human.id)
        assert [(r.preferred, r.strength) for r in revs] == [("a", 1), ("tie", None)]
        assert revs[1].replaced_at.isoformat() == "2025-01-03T00:00:00+00:00"
    ingest(engine, [bundle_from_line(lineage_line(0, history=history))])  # not added twice
    assert count(engine, JudgmentRevision) == 2


def test_judgment_key_includes_the_kind():
    pair = "p" * 64
    human = judgment_key(pair, "ann", kind="human", presentation_order="ab")
    assert human == content_hash("judgment", pair, "ann", "human", "ab", "", "")
    assert human != judgment_key(pair, "ann", kind="ai", presentation_order="ab")
    with pytest.raises(TypeError):
        judgment_key(pair, "ann", presentation_order="ab")  # the kind is required
    with pytest.raises(ValueError, match="kind"):
        judgment_key(pair, "ann", kind="robot")


def test_crud_and_ingest_agree_on_the_key(engine):
    rec = PreferenceRecord(
        prompt="q",
        chosen="a",
        rejected="b",
        source="s",
        judgments=[JudgmentSpec(kind="ai", judge="m", prob_chosen=0.8)],
    )
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest([rec])
        pair = s.exec(select(Pair)).one()
        stored = s.exec(select(Judgment)).one()
        _, action = upsert_judgment(
            s, pair=pair, kind="ai", judge="m", preferred=stored.preferred, prob_a=stored.prob_a
        )
        assert action == "unchanged"
        # The same name as a human annotator is another judge identity.
        _, action = upsert_judgment(s, pair=pair, kind="human", judge="m", preferred="a")
        assert action == "created"


def test_relabelling_a_judge_is_refused_within_and_across_imports(engine):
    def rec(kind, principle=""):
        return PreferenceRecord(
            prompt="q",
            chosen="a",
            rejected="b",
            source="s",
            judgments=[JudgmentSpec(kind=kind, judge="same-name", principle=principle)],
        )

    with pytest.raises(ValueError, match="already has human judgments"):
        ingest(engine, [bundle_from_preference(rec("human")), bundle_from_preference(rec("ai"))])
    assert count(engine, Pair) == 0  # the transaction was rolled back
    ingest(engine, [bundle_from_preference(rec("human"))])
    with pytest.raises(ValueError, match="already has human judgments"):
        ingest(engine, [bundle_from_preference(rec("ai"))])
    # Another principle is another judge identity: allowed.
    assert ingest(engine, [bundle_from_preference(rec("ai", principle="honest"))]).judgments == 1
    assert count(engine, Judgment) == 2


def test_batches_are_bounded_by_rows_and_by_characters(engine):
    recs = [PreferenceRecord(prompt=f"q{i}", chosen="x" * 400, rejected=f"y{i}") for i in range(10)]
    flushed: list[int] = []
    with session_scope(engine) as s:
        ingestor = StoreIngestor(s, batch_size=4, max_batch_chars=1000)
        flush = ingestor.flush
        ingestor.flush = lambda batch: (flushed.append(len(batch)), flush(batch))[1]
        counts = ingestor.ingest(bundle_from_preference(r) for r in recs)
    assert flushed == [3, 3, 3, 1] and counts.pairs == 10
    with session_scope(engine) as s:
        ingestor = StoreIngestor(s, batch_size=4)
        flushed.clear()
        flush = ingestor.flush
        ingestor.flush = lambda batch: (flushed.append(len(batch)), flush(batch))[1]
        ingestor.ingest(bundle_from_preference(r) for r in recs)
    assert flushed == [4, 4, 2]
    with pytest.raises(ValueError, match="at least 1"):
        StoreIngestor(None, batch_size=0)


def test_parents_already_in_the_store_and_missing_parents(engine):
    ingest(engine, [bundle_from_line(lineage_line(0))])
    bundle = bundle_from_line(lineage_line(0))
    # The critique does not travel: the revision's parent is found in the store.
    bundle.responses = [r for r in bundle.responses if r["role"] != "critique"]
    assert ingest(engine, [bundle]).unchanged == 2
    only_children = bundle_from_line(lineage_line(0))  # no response without a parent
    only_children.responses = [r for r in only_children.responses if r["parent_hash"]]
    only_children.pair["a"] = only_children.pair["b"] = next(
        r["content_hash"] for r in only_children.responses if r["role"] == "revision"
    )
    only_children.judgments = []
    assert ingest(engine, [only_children]).as_dict()["responses"] == 0
    orphan = bundle_from_line(lineage_line(7))
    orphan.responses = [
        {**r, "parent_hash": "f" * 64} for r in orphan.responses if r["role"] == "revision"
    ]
    with pytest.raises(ValueError, match="parents are missing"):
        ingest(engine, [orphan])


def test_rows_read_back_as_written_and_in_input_order(engine):
    msgs = [{"role": "user", "content": "Hi"}]
    recs = [
        PreferenceRecord(
            prompt=f"q{i}",
            chosen=f"a{i}",
            rejected=f"b{i}",
            source="s",
            prompt_messages=msgs if i == 1 else None,
            prompt_meta={"i": i},
            judgments=[
                JudgmentSpec(
                    kind="human",
                    annotator="ann",
                    prob_chosen=0.25,
                    meta={"k": [1, 2]} if i == 2 else {},
                )
            ],
        )
        for i in range(3)
    ]
    with session_scope(engine) as s:
        counts = PreferenceIngestor(s, job_id=None).ingest(recs)
    assert counts.annotators == 1
    with session_scope(engine) as s:
        prompts = list(s.exec(select(Prompt).order_by(Prompt.id)))
        assert [p.text for p in prompts] == ["q0", "q1", "q2"]
        assert [p.messages for p in prompts] == [None, msgs, None]
        assert [p.meta for p in prompts] == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert prompts[0].created_at.tzinfo is not None
        pairs = list(s.exec(select(Pair).order_by(Pair.id)))
        assert [s.get(Prompt, p.prompt_id).content_hash for p in pairs] == [
            p.content_hash for p in prompts
        ]
        js = list(s.exec(select(Judgment).order_by(Judgment.id)))
        assert [j.meta for j in js] == [{}, {}, {"k": [1, 2]}]
        assert all(j.annotator_id is not None and j.is_aggregate is False for j in js)
        for j, pair in zip(js, pairs):
            chosen_is_a = s.get(Response, pair.response_a_id).text.startswith("a")
            assert j.prob_a == (0.25 if chosen_is_a else 0.75)


def test_gc_is_restored_after_an_ingest_even_a_failed_one(engine):
    assert gc.isenabled()
    both = [
        PreferenceRecord(prompt="q", chosen="a", rejected="b", kind=kind, judge="j")
        for kind in ("human", "ai")
    ]
    with pytest.raises(ValueError, match="relabel"):
        ingest(
            engine, [bundle_from_line(lineage_line(0))] + [bundle_from_preference(r) for r in both]
        )
    assert gc.isenabled()
    assert count(engine, Pair) == 0


def test_split_group_normalization_is_the_documented_one():
    import re
    import unicodedata

    from accord.hashing import normalize_text

    def reference(text: str) -> str:  # NFKC, white space runs collapsed, stripped, lower case
        return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().lower()

    for text in (
        "  Hello,\n  WORLD ",
        "tab\tand\u00a0nbsp\u2003em\u3000ideographic",
        "ﬁne Ｆｕｌｌｗｉｄｔｈ",
        "line\u2028sep\x1cfs\x85nel",
        "",
        " \n ",
    ):
        assert normalize_text(text) == reference(text)


def test_store_keys_are_the_content_hashes_of_their_parts():
    from accord.store.keys import pair_key, prompt_key, response_key

    msgs = [{"role": "user", "content": "Hé"}]
    for text in ("", "Hi", "é" * 3, "a" * 1000):
        assert prompt_key(text) == content_hash("prompt", text)
        assert prompt_key(text, msgs) == content_hash("prompt", msgs)
        for role, parent, model in (("initial", "", ""), ("revision", "p" * 64, "m/ü")):
            assert response_key(
                "h" * 64, text, role=role, parent_hash=parent, model_id=model
            ) == content_hash("response", "h" * 64, role, parent, model, text)
    assert pair_key("b" * 64, "a" * 64) == content_hash("pair", "a" * 64, "b" * 64)
    assert judgment_key(
        "p" * 64,
        "jüdge",
        kind="ai",
        presentation_order="ba",
        principle="x",
        constitution_hash="c" * 64,
    ) == content_hash("judgment", "p" * 64, "jüdge", "ai", "ba", "x", "c" * 64)


def test_rekey_brings_judgments_written_with_the_old_key_back_under_their_key(engine):
    from accord.store.rekey import rekey_judgments

    recs = [
        PreferenceRecord(
            prompt=f"q{i}",
            chosen="a",
            rejected="b",
            source="old",
            judgments=[JudgmentSpec(kind="ai", judge="m", principle="p", presentation_order="ab")],
        )
        for i in range(3)
    ]
    with session_scope(engine) as s:
        PreferenceIngestor(s).ingest(recs)
        for j in s.exec(select(Judgment)):  # the key as stores wrote it before it had the kind
            pair = s.get(Pair, j.pair_id)
            j.key_hash = content_hash("judgment", pair.content_hash, j.judge, "ab", "p", "")
            s.add(j)
    with engine.begin() as conn:
        assert rekey_judgments(conn) == 3
    with engine.begin() as conn:
        assert rekey_judgments(conn) == 0
    with session_scope(engine) as s:
        again = PreferenceIngestor(s).ingest(recs)
    assert (again.judgments, again.unchanged) == (0, 3)
