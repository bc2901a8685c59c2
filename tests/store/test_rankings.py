"""Rankings of K responses on SQLite and a real PostgreSQL: kept as such, expanded into the
(K choose 2) judgments they imply (each pointing back at its ranking), idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from accord.store.crud import judgments, prompts, rankings, responses
from accord.store.db import session_scope
from accord.store.models import Judgment, Pair, Ranking

TEXTS = ("four", "4", "IV", "five")


def _item(s, texts=TEXTS, prompt="2+2?"):
    p = prompts.upsert_prompt(s, text=prompt)
    return p, [responses.upsert_response(s, prompt=p, text=t) for t in texts]


def _by_texts(s, ranking_id):
    """{(better text, worse text) or (x, y, 'tie'): presentation order} of a ranking's judgments."""
    out = {}
    for j in rankings.ranking_judgments(s, ranking_id=ranking_id):
        pair = s.get(Pair, j.pair_id)
        a = responses.get_response(s, response_id=pair.response_a_id).text
        b = responses.get_response(s, response_id=pair.response_b_id).text
        key = {"a": (a, b), "b": (b, a), "tie": tuple(sorted((a, b))) + ("tie",)}[j.preferred]
        out[key] = j.presentation_order
    return out


def test_a_ranking_expands_into_k_choose_2_judgments_that_remember_it(engine):
    with session_scope(engine) as s:
        p, rs = _item(s)
        shown = [rs[3], rs[0], rs[2], rs[1]]
        ranking, outcome = rankings.upsert_ranking(
            s,
            prompt=p,
            responses=rs,
            ranks=[1, 1, 3, 4],
            kind="human",
            judge="ann",
            shown_order=shown,
            source="t",
        )
        assert outcome == "created"
        assert ranking.k == 4 and sorted(ranking.ranks) == [1, 1, 2, 3]  # stored dense
        assert ranking.shown_order == [r.id for r in shown]
        got = _by_texts(s, ranking.id)
    assert set(got) == {
        ("4", "four", "tie"),
        ("four", "IV"),
        ("four", "five"),
        ("4", "IV"),
        ("4", "five"),
        ("IV", "five"),
    }
    # presentation order: which of the pair's canonical sides was shown first
    with Session(engine) as s:
        js = s.exec(select(Judgment).where(Judgment.ranking_id == ranking.id)).all()
        assert len(js) == 6 and all(j.kind == "human" and j.judge == "ann" for j in js)
        shown_at = {rid: n for n, rid in enumerate(ranking.shown_order)}
        for j in js:
            pair = s.get(Pair, j.pair_id)
            first_a = shown_at[pair.response_a_id] < shown_at[pair.response_b_id]
            assert j.presentation_order == ("ab" if first_a else "ba")


def test_rankings_are_idempotent_and_changes_keep_judgment_history(engine):
    with session_scope(engine) as s:
        p, rs = _item(s)
        first, _ = rankings.upsert_ranking(
            s, prompt=p, responses=rs, ranks=[1, 2, 3, 4], kind="human", judge="ann"
        )
        # the same K responses in another order are the same ranked item
        again, outcome = rankings.upsert_ranking(
            s, prompt=p, responses=rs[::-1], ranks=[4, 3, 2, 1], kind="human", judge="ann"
        )
        assert (again.id, outcome) == (first.id, "unchanged")
        changed, outcome = rankings.upsert_ranking(
            s, prompt=p, responses=rs, ranks=[2, 1, 3, 4], kind="human", judge="ann"
        )
        assert (changed.id, outcome) == (first.id, "updated")
        flipped = [
            j
            for j in rankings.ranking_judgments(s, ranking_id=first.id)
            if judgments.judgment_history(s, judgment_id=j.id)
        ]
        assert len(flipped) == 1  # only the "four" vs "4" comparison changed
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Ranking)).one() == 1
        assert s.exec(select(func.count()).select_from(Judgment)).one() == 6


def test_a_ranking_is_its_own_judgment_beside_pairwise_labels_and_other_rankings(engine):
    with session_scope(engine) as s:
        p, rs = _item(s, texts=("w", "x", "y", "z", "v"))
        one, _ = rankings.upsert_ranking(
            s, prompt=p, responses=rs[:4], ranks=[1, 2, 3, 4], kind="human", judge="ann"
        )
        two, _ = rankings.upsert_ranking(
            s, prompt=p, responses=rs[1:], ranks=[4, 3, 2, 1], kind="human", judge="ann"
        )
        other, _ = rankings.upsert_ranking(
            s, prompt=p, responses=rs[:4], ranks=[4, 3, 2, 1], kind="human", judge="bob"
        )
        assert one.group_key == other.group_key != two.group_key
        pair_id = rankings.ranking_judgments(s, ranking_id=one.id)[0].pair_id
        pair = s.get(Pair, pair_id)
        _, outcome = judgments.upsert_judgment(
            s, pair=pair, kind="human", judge="ann", preferred="a"
        )
        assert outcome == "created"
    with Session(engine) as s:
        counts = dict(
            s.exec(select(Judgment.ranking_id, func.count()).group_by(Judgment.ranking_id)).all()
        )
    assert counts == {one.id: 6, two.id: 6, other.id: 6, None: 1}
    with Session(engine) as s:
        page, total = judgments.list_judgments(s, ranking_id=two.id)
        assert total == 6 and {j.ranking_id for j in page} == {two.id}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ranks": [1, 2, 3]}, "ranks: 3 ranks for 4 responses"),
        ({"ranks": [1, 2, 0, 4]}, r"ranks\[2\] must be a whole number"),
        ({"ranks": [1, 2, 2.5, 4]}, r"ranks\[2\] must be a whole number"),
        ({"kind": "robot"}, "kind must be one of"),
        ({"shown": 3}, "shown_order must hold each ranked response exactly once"),
        ({"responses": 1}, "a ranking orders 2 to 16 responses, got 1"),
        ({"scores": [0.1, 0.2]}, "scores: 4 finite numbers"),
    ],
)
def test_bad_rankings_name_the_field_and_store_nothing(engine, change, message):
    with pytest.raises(ValueError, match=message):
        with session_scope(engine) as s:
            p, rs = _item(s)
            kw = {"ranks": [1, 2, 3, 4], "kind": "human", "responses": rs}
            kw.update({k: v for k, v in change.items() if k in ("ranks", "kind", "scores")})
            if "responses" in change:
                kw["responses"], kw["ranks"] = rs[:1], [1]
            if "shown" in change:
                kw["shown_order"] = rs[:3]
            rankings.upsert_ranking(s, prompt=p, judge="ann", **kw)
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Ranking)).one() == 0
        assert s.exec(select(func.count()).select_from(Judgment)).one() == 0


def test_responses_of_another_prompt_are_refused(engine):
    with pytest.raises(ValueError, match=r"responses\[1\] answers another prompt"):
        with session_scope(engine) as s:
            p, rs = _item(s)
            _, others = _item(s, prompt="3+3?")
            rankings.upsert_ranking(
                s, prompt=p, responses=[rs[0], others[1]], ranks=[1, 2], kind="human", judge="a"
            )


def test_ai_scores_become_soft_labels(engine):
    with session_scope(engine) as s:
        p, rs = _item(s, texts=("x", "y"))
        ranking, _ = rankings.upsert_ranking(
            s, prompt=p, responses=rs, ranks=[1, 2], scores=[1.0, 0.0], kind="ai", judge="m"
        )
        (j,) = rankings.ranking_judgments(s, ranking_id=ranking.id)
        pair = s.get(Pair, j.pair_id)
        x_is_a = pair.response_a_id == rs[0].id
        expected = 1 / (1 + 2.718281828459045**-1.0)
        assert j.prob_a == pytest.approx(expected if x_is_a else 1 - expected)
        assert j.preferred == ("a" if x_is_a else "b")


def test_ranking_table_migrates_both_ways(engine):
    from alembic import command

    from accord.store.db import alembic_config, current_revision, upgrade

    assert "ranking" in inspect(engine).get_table_names()
    command.downgrade(alembic_config(engine), "0008")
    assert current_revision(engine) == "0008"
    assert "ranking" not in inspect(engine).get_table_names()
    assert "ranking_id" not in {c["name"] for c in inspect(engine).get_columns("judgment")}
    upgrade(engine)
    assert "ranking_id" in {c["name"] for c in inspect(engine).get_columns("judgment")}
    assert "ix_judgment_ranking_id" in {i["name"] for i in inspect(engine).get_indexes("judgment")}


def test_rekeying_keeps_the_keys_of_ranking_judgments(engine):
    from accord.store.rekey import rekey_judgments

    with session_scope(engine) as s:
        p, rs = _item(s)
        rankings.upsert_ranking(
            s, prompt=p, responses=rs, ranks=[1, 2, 3, 4], kind="human", judge="ann"
        )
    with engine.begin() as conn:
        assert rekey_judgments(conn) == 0


@pytest.mark.parametrize(
    ("kind", "method", "message"),
    [("human", "listwise", "only AI rankings"), ("ai", "borda", "must be one of")],
)
def test_a_ranking_method_is_checked(kind, method, message):
    from accord.store.crud.prompts import upsert_prompt
    from accord.store.crud.rankings import upsert_ranking
    from accord.store.crud.responses import upsert_response
    from accord.store.db import open_store, session_scope

    engine = open_store("sqlite://")
    with pytest.raises(ValueError, match=f"method: {message}"), session_scope(engine) as s:
        prompt = upsert_prompt(s, text="Name a colour")
        rs = [upsert_response(s, prompt=prompt, text=t) for t in ("red", "blue")]
        upsert_ranking(
            s, prompt=prompt, responses=rs, ranks=[1, 2], kind=kind, judge="x", method=method
        )
