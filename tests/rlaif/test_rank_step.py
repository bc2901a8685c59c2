"""The ``rank`` step against the real tiny model: generate K responses, judge all their pairs,
rank them by Bradley–Terry over the judge's log-prob comparisons, stored as AI rankings."""

from __future__ import annotations

import json
import math

import pytest
from sqlmodel import Session, select

from accord.jobs import run_recipe
from accord.rlaif.bradley_terry import fit_bradley_terry, ranks_from_strengths
from accord.store.models import Judgment, Pair, Ranking

pytestmark = pytest.mark.slow  # the real tiny model generates and scores

MODELS = {
    "policy": {"backend": "transformers", "model": "accord/tiny"},
    "judge": {"backend": "transformers", "model": "accord/tiny"},
}


def test_rank_step_stores_bradley_terry_rankings_of_k_responses(store, recorder, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"prompt": t}) + "\n" for t in ("Name a fruit.", "Say hello."))
    )
    recipe = {
        "name": "rank",
        "models": MODELS,
        "steps": [
            {"kind": "import_prompts", "file": str(prompts)},
            {"kind": "generate", "n": 4, "max_tokens": 8, "temperature": 1.0},
            {"kind": "make_pairs"},
            {"kind": "judge", "constitution": "tiny-test", "batch_size": 8},
            {"kind": "rank"},
        ],
    }
    result = run_recipe(store, recipe, progress=False, backends={"judge": recorder})
    assert result.status == "succeeded" and result.errors == 0
    with Session(store) as s:
        rankings = s.exec(select(Ranking)).all()
        assert rankings and all(r.kind == "ai" and r.judge == "accord/tiny" for r in rankings)
        for ranking in rankings:
            assert ranking.principle == "*ensemble*" and len(ranking.constitution_hash) == 64
            index = {rid: n for n, rid in enumerate(ranking.response_ids)}
            aggs = [
                (s.get(Pair, j.pair_id), j)
                for j in s.exec(
                    select(Judgment).where(
                        Judgment.is_aggregate == True,  # noqa: E712
                        Judgment.ranking_id.is_(None),
                        Judgment.id.in_(ranking.meta["from_judgments"]),
                    )
                ).all()
            ]
            k = ranking.k
            assert len(aggs) == k * (k - 1) // 2
            theta = fit_bradley_terry(
                k, [(index[p.response_a_id], index[p.response_b_id], j.prob_a) for p, j in aggs]
            )
            assert ranking.scores == pytest.approx(theta.tolist(), abs=1e-9)
            assert ranking.ranks == ranks_from_strengths(theta)
            expanded = s.exec(select(Judgment).where(Judgment.ranking_id == ranking.id)).all()
            assert len(expanded) == k * (k - 1) // 2
            for j in expanded:
                pair = s.get(Pair, j.pair_id)
                gap = theta[index[pair.response_a_id]] - theta[index[pair.response_b_id]]
                assert j.prob_a == pytest.approx(1 / (1 + math.exp(-gap)))
                assert j.kind == "ai" and not j.is_aggregate
    # a rerun is cached and adds nothing
    run_recipe(store, recipe, progress=False, backends={"judge": recorder})
    with Session(store) as s:
        assert len(s.exec(select(Ranking)).all()) == len(rankings)
