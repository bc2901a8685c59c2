"""The ``rank`` step's listwise method against the real tiny model: each prompt's K responses
in one prompt, read label by label in a forward and a reversed presentation, Plackett–Luce
strengths stored as an AI ranking with its expanded judgments; the method's settings are
checked when the recipe is read."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select

from accord.jobs import run_recipe
from accord.rlaif.bradley_terry import ranks_from_strengths
from accord.rlaif.listwise import ListwiseTask
from accord.rlaif.plackett_luce import fit_plackett_luce
from accord.rlaif.rank import RankConfig
from accord.store.models import Judgment, Pair, Ranking

MODELS = {
    "policy": {"backend": "transformers", "model": "accord/tiny"},
    "judge": {"backend": "transformers", "model": "accord/tiny"},
}


def test_config_keeps_each_methods_fields_to_it(tmp_path):
    assert RankConfig(kind="rank").method == "bradley-terry"
    with pytest.raises(ValidationError, match="orders, batch_size: only method listwise"):
        RankConfig(kind="rank", orders="one", batch_size=2)
    with pytest.raises(ValidationError, match="judge: method listwise asks `model`"):
        RankConfig(kind="rank", method="listwise", judge="m")
    with pytest.raises(ValidationError, match="method"):
        RankConfig(kind="rank", method="pointwise")
    bad = tmp_path / "rank.yaml"
    bad.write_text("user: 'Rank {answers}'\n")
    task = RankConfig(kind="rank", method="listwise", template=str(bad)).task()
    with pytest.raises(Exception, match=r"rank.yaml.*user.*unknown placeholder \{answers\}"):
        task.check()


def test_messages_label_every_response_in_the_shown_order():
    task = ListwiseTask(constitution="tiny-test")
    messages = task.messages(prompt="Hi?", question="Which is best?", shown=["x", "y", "z"])
    user = messages[-1]["content"]
    assert user.index("(A)\n<<<RESPONSE A>>>\nx") < user.index("(B)\n<<<RESPONSE B>>>\ny")
    assert "(C)\n<<<RESPONSE C>>>\nz\n<<<END RESPONSE C>>>" in user
    assert "Rank all 3 responses ((A), (B), (C))" in user
    assert task.shown(3, "reversed") == [2, 1, 0]
    with pytest.raises(ValueError, match="2 to 26"):
        task.labels(1)


def check_listwise_ranking(session: Session, ranking: Ranking, *, orders: list[str]) -> None:
    """Scores refit from the stored readings, ranks, stages and expanded judgments."""
    meta = ranking.meta
    k = ranking.k
    assert meta["method"] == "listwise" and meta["orders"] == orders
    presentations = meta["presentations"]
    assert len(presentations) == len(orders) * len(meta["principles"])
    stages = []
    for p in presentations:
        assert p["shown"] == (list(range(k)) if p["order"] == "forward" else list(range(k))[::-1])
        labels = [chr(ord("A") + n) for n in range(k)]
        assert len(p["stages"]) == k - 1
        picked = []
        for stage in p["stages"]:
            open_labels = [x for x in labels if x not in picked]
            assert list(stage["probs"]) == open_labels
            assert sum(stage["probs"].values()) == pytest.approx(1.0)
            assert stage["picked"] == max(open_labels, key=stage["probs"].get)
            text = p["scored_text"][: stage["scored_chars"]]
            assert text.endswith("The ranking is: (" + "".join(x + ") > (" for x in picked))
            picked.append(stage["picked"])
            index = dict(zip(labels, p["shown"]))
            stages.append(([index[x] for x in stage["probs"]], list(stage["probs"].values())))
        order = picked + [x for x in labels if x not in picked]
        assert p["raw_output"] == "The ranking is: (" + ") > (".join(order) + ")"
        assert p["read_order"] == [p["shown"][labels.index(x)] for x in order]
    theta = fit_plackett_luce(k, stages)
    assert ranking.scores == pytest.approx(theta.tolist(), abs=1e-9)
    assert ranking.ranks == ranks_from_strengths(theta)
    index = {rid: n for n, rid in enumerate(ranking.response_ids)}
    expanded = session.exec(select(Judgment).where(Judgment.ranking_id == ranking.id)).all()
    assert len(expanded) == k * (k - 1) // 2
    for j in expanded:
        pair = session.get(Pair, j.pair_id)
        gap = theta[index[pair.response_a_id]] - theta[index[pair.response_b_id]]
        assert j.prob_a == pytest.approx(1 / (1 + math.exp(-gap)))
        assert j.kind == "ai" and j.judge == ranking.judge and j.principle == ranking.principle


@pytest.mark.slow
def test_listwise_rank_step_stores_rankings_read_label_by_label(store, recorder, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"prompt": t}) + "\n" for t in ("Name a fruit.", "Say hello."))
    )
    recipe = {
        "name": "rank-listwise",
        "models": MODELS,
        "steps": [
            {"kind": "import_prompts", "file": str(prompts)},
            {"kind": "generate", "n": 4, "max_tokens": 8, "temperature": 1.0},
            {"kind": "rank", "method": "listwise", "constitution": "tiny-test", "batch_size": 2},
        ],
    }
    result = run_recipe(store, recipe, progress=False, backends={"judge": recorder})
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    # 3 rounds (the 4th label needs no request); 2 principles × 2 orders per prompt and round
    sent = [r for call in recorder.calls for r in call]
    assert len(sent) == 2 * 3 * 4
    assert sorted({len(r.choices) for r in sent}) == [2, 3, 4]
    with Session(store) as s:
        rankings = s.exec(select(Ranking)).all()
        assert len(rankings) == 2
        for ranking in rankings:
            assert ranking.kind == "ai" and ranking.judge == "accord/tiny"
            assert ranking.principle == "*ensemble*" and len(ranking.constitution_hash) == 64
            assert ranking.shown_order == [] and ranking.k == 4
            check_listwise_ranking(s, ranking, orders=["forward", "reversed"])
            assert isinstance(ranking.meta["position_consistent"], bool)
    # a rerun is answered from the cache: no request, no new row
    calls = len(recorder.calls)
    again = run_recipe(store, recipe, progress=False, backends={"judge": recorder})
    assert again.status == "succeeded" and len(recorder.calls) == calls
    with Session(store) as s:
        assert len(s.exec(select(Ranking)).all()) == 2


def test_one_judges_bradley_terry_and_listwise_rankings_are_both_kept(store, recorder, tmp_path):
    """The two methods read the same responses differently: ranking them by the second method
    adds a ranking beside the first instead of overwriting it, each keeps its own expanded
    judgments, a rerun adds nothing, and the audit compares each with the human ranking as a
    rater of its own."""
    from accord.audit.bootstrap import BootstrapConfig
    from accord.audit.loader import AuditScope
    from accord.audit.rank_agreement import rank_agreement_section
    from accord.store.crud.rankings import upsert_ranking
    from accord.store.db import session_scope
    from accord.store.models import Prompt, Response

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "Name a fruit."}) + "\n")
    recipe = {
        "name": "rank-both",
        "models": MODELS,
        "steps": [
            {"kind": "import_prompts", "file": str(prompts)},
            {"kind": "generate", "n": 3, "max_tokens": 8, "temperature": 1.0},
            {"kind": "make_pairs"},
            {"kind": "judge", "constitution": "tiny-test", "batch_size": 8},
            {"kind": "rank", "name": "bt"},
            {"kind": "rank", "name": "listwise", "method": "listwise", "constitution": "tiny-test"},
        ],
    }
    result = run_recipe(store, recipe, progress=False, backends={"judge": recorder})
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    with Session(store) as s:
        rankings = {r.method: r for r in s.exec(select(Ranking)).all()}
        assert sorted(rankings) == ["bradley-terry", "listwise"]
        bt, lw = rankings["bradley-terry"], rankings["listwise"]
        assert (bt.judge, bt.group_key, bt.principle) == (lw.judge, lw.group_key, lw.principle)
        assert bt.key_hash != lw.key_hash
        for ranking in (bt, lw):
            expanded = s.exec(select(Judgment).where(Judgment.ranking_id == ranking.id)).all()
            assert len(expanded) == 3
            index = {rid: n for n, rid in enumerate(ranking.response_ids)}
            for j in expanded:  # each method's judgments follow its own strengths
                pair = s.get(Pair, j.pair_id)
                gap = (
                    ranking.scores[index[pair.response_a_id]]
                    - ranking.scores[index[pair.response_b_id]]
                )
                assert j.prob_a == pytest.approx(1 / (1 + math.exp(-gap)))
        prompt_id, response_ids = bt.prompt_id, list(bt.response_ids)
    with session_scope(store) as w:
        upsert_ranking(
            w,
            prompt=w.get(Prompt, prompt_id),
            responses=[w.get(Response, rid) for rid in response_ids],
            ranks=[1, 2, 3],
            kind="human",
            judge="ann",
        )
    again = run_recipe(store, recipe, progress=False, backends={"judge": recorder})
    assert again.status == "succeeded"
    with Session(store) as s:
        assert len(s.exec(select(Ranking)).all()) == 3
    section = rank_agreement_section(store, AuditScope(), BootstrapConfig(n_resamples=50))
    raters = sorted(row["judge"] for row in section["human_ai"])
    assert len(raters) == 2
    assert [" / bradley-terry" in r for r in raters] == [True, False]
    assert [" / listwise" in r for r in raters] == [False, True]
