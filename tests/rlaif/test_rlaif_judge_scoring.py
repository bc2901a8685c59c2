"""The judge step on a real-tokenizer model given as a local folder (the SentencePiece Llama):
every individual judgment keeps p_shown_a and the exact scored text, and P(shown A) equals an
independent in-context forward pass for both presentation orders."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from accord.constitutions import load_constitution
from accord.jobs import run_recipe
from accord.jobs.context import StepOutput
from accord.jobs.registry import StepConfig, register_step
from accord.rlaif.judge import OPTIONS, judge_messages
from accord.store.crud.pairs import upsert_pair
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import session_scope
from accord.store.models import Judgment, Pair, Response
from tests.fixtures import choice_scoring as ref

pytestmark = pytest.mark.slow  # a real-tokenizer model scores


class ScoringTestPairs(StepConfig):
    pair_ids: list[int]


register_step(
    "pairs_for_judge_scoring_test",
    ScoringTestPairs,
    lambda ctx, cfg: StepOutput(pairs=list(cfg.pair_ids)),
)


def test_judgments_keep_p_shown_a_and_the_scored_text(store, sp_llama_dir):
    model_dir = str(sp_llama_dir)
    with session_scope(store) as s:
        p = upsert_prompt(s, text=ref.REQUEST)
        pair_id = upsert_pair(
            s,
            response_x=upsert_response(s, prompt=p, text=ref.SENSIBLE),
            response_y=upsert_response(s, prompt=p, text=ref.NONSENSE),
        ).id
    principle = load_constitution("tiny-test").principles[0]
    recipe = {
        "name": "judge-sp",
        "steps": [
            {"kind": "pairs_for_judge_scoring_test", "name": "pairs", "pair_ids": [pair_id]},
            {
                "kind": "judge",
                "model": {"backend": "transformers", "model": model_dir},
                "constitution": "tiny-test",
                "principles": [principle.id],
                "input": "pairs",
            },
        ],
    }
    result = run_recipe(store, recipe, progress=False)
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    with Session(store) as s:
        pair = s.get(Pair, pair_id)
        a, b = (s.get(Response, i).text for i in (pair.response_a_id, pair.response_b_id))
        singles = s.exec(
            select(Judgment).where(Judgment.pair_id == pair_id, Judgment.is_aggregate == False)
        ).all()
    assert sorted(j.presentation_order for j in singles) == ["ab", "ba"]
    for j in singles:
        first, second = (a, b) if j.presentation_order == "ab" else (b, a)
        messages = judge_messages(
            prompt=ref.REQUEST, principle=principle, first=first, second=second, cot=False
        )
        text = ref.rendered(model_dir, messages)
        assert j.meta["scored_text"] == text and j.meta["truncated_choice"] is False
        want = ref.p_a(*(ref.in_context(model_dir, text, c) for c in OPTIONS))
        assert j.meta["p_shown_a"] == pytest.approx(want, abs=1e-3)
        assert j.prob_a == pytest.approx(want if j.presentation_order == "ab" else 1 - want)
