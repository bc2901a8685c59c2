"""Independent readings of the ``rank`` step on real tokenizers (test helper code): every
number the step stores is computed again here by a plain transformers forward pass over the
full token ids (``tests.fixtures.choice_scoring``), the answer tokenized in context."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlmodel import Session, select

from accord.constitutions import load_constitution
from accord.jobs.context import StepOutput
from accord.jobs.registry import StepConfig, register_step
from accord.rlaif.bradley_terry import fit_bradley_terry
from accord.rlaif.judge import OPTIONS, judge_messages
from accord.rlaif.listwise import ListwiseTask
from accord.rlaif.plackett_luce import fit_plackett_luce
from accord.store.crud.prompts import upsert_prompt
from accord.store.crud.responses import upsert_response
from accord.store.db import session_scope
from accord.store.models import Judgment, Pair, Ranking, Response
from tests.fixtures import choice_scoring as ref

TEXTS = [ref.SENSIBLE, ref.NONSENSE, "Crack it into a hot pan and fry it."]
PRINCIPLE = "helpful"


class RankTestResponses(StepConfig):
    response_ids: list[int]


register_step(
    "responses_for_rank_test",
    RankTestResponses,
    lambda ctx, cfg: StepOutput(responses=list(cfg.response_ids)),
)


def store_responses(store) -> list[int]:
    with session_scope(store) as s:
        p = upsert_prompt(s, text=ref.REQUEST)
        return [upsert_response(s, prompt=p, text=t).id for t in TEXTS]


def only_ranking(store) -> tuple[Ranking, list[str], list[Judgment]]:
    with Session(store) as s:
        (ranking,) = s.exec(select(Ranking)).all()
        texts = [s.get(Response, i).text for i in ranking.response_ids]
        expanded = s.exec(select(Judgment).where(Judgment.ranking_id == ranking.id)).all()
        for j in expanded:
            s.expunge(j)
        s.expunge(ranking)
    return ranking, texts, expanded


def check_bos_once(model_dir: str, text: str) -> None:
    _, tokenizer = ref.load(model_dir)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if tokenizer.bos_token == "<s>":  # the SentencePiece Llama: its template writes BOS
        assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id


def check_listwise(store, model_dir: str, *, abs_tol: float = 1e-3) -> None:
    """Each stage's scored text, label log-probs and renormalised probabilities, and the
    ranking's Plackett–Luce scores, equal an independent in-context computation."""
    model_dir = str(model_dir)
    ranking, texts, expanded = only_ranking(store)
    task = ListwiseTask(constitution="tiny-test", principles=[PRINCIPLE])
    question = load_constitution("tiny-test").principle(PRINCIPLE).comparison_question
    k = len(texts)
    presentations = ranking.meta["presentations"]
    assert [p["order"] for p in presentations] == ["forward", "reversed"]
    stages = []
    for p in presentations:
        messages = task.messages(
            prompt=ref.REQUEST, question=question, shown=[texts[i] for i in p["shown"]]
        )
        labels = task.labels(k)
        picked: list[str] = []
        for stage in p["stages"]:
            text = p["scored_text"][: stage["scored_chars"]]
            assert text == ref.rendered(model_dir, messages, task.assistant_text(picked))
            check_bos_once(model_dir, text)
            open_labels = [x for x in labels if x not in picked]
            lps = {x: ref.in_context(model_dir, text, x) for x in open_labels}
            peak = max(lps.values())
            total = sum(math.exp(v - peak) for v in lps.values())
            probs = {x: math.exp(v - peak) / total for x, v in lps.items()}
            for x in open_labels:
                assert stage["choice_logprobs"][x] == pytest.approx(lps[x], abs=abs_tol)
                assert stage["probs"][x] == pytest.approx(probs[x], abs=abs_tol)
            index = dict(zip(labels, p["shown"]))
            stages.append(([index[x] for x in open_labels], [probs[x] for x in open_labels]))
            picked.append(stage["picked"])
    theta = fit_plackett_luce(k, stages)
    np.testing.assert_allclose(ranking.scores, theta, atol=abs_tol)
    assert len(expanded) == k * (k - 1) // 2


def check_bradley_terry(store, model_dir: str, *, abs_tol: float = 1e-3) -> None:
    """The judge's P(shown A) per order, read independently, averaged over both orders per
    pair and fitted by Bradley–Terry, equals the stored ranking's scores."""
    model_dir = str(model_dir)
    ranking, texts, _ = only_ranking(store)
    principle = load_constitution("tiny-test").principle(PRINCIPLE)
    index = {rid: n for n, rid in enumerate(ranking.response_ids)}
    comparisons = []
    with Session(store) as s:
        pairs = s.exec(select(Pair)).all()
        for pair in pairs:
            a, b = (
                s.get(Response, pair.response_a_id).text,
                s.get(Response, pair.response_b_id).text,
            )
            singles = s.exec(
                select(Judgment).where(
                    Judgment.pair_id == pair.id,
                    Judgment.is_aggregate == False,  # noqa: E712
                    Judgment.ranking_id.is_(None),
                )
            ).all()
            assert sorted(j.presentation_order for j in singles) == ["ab", "ba"]
            probs = []
            for j in singles:
                first, second = (a, b) if j.presentation_order == "ab" else (b, a)
                messages = judge_messages(
                    prompt=ref.REQUEST, principle=principle, first=first, second=second, cot=False
                )
                text = ref.rendered(model_dir, messages)
                assert j.meta["scored_text"] == text
                check_bos_once(model_dir, text)
                shown_a = ref.p_a(*(ref.in_context(model_dir, text, c) for c in OPTIONS))
                assert j.meta["p_shown_a"] == pytest.approx(shown_a, abs=abs_tol)
                probs.append(shown_a if j.presentation_order == "ab" else 1 - shown_a)
            comparisons.append(
                (index[pair.response_a_id], index[pair.response_b_id], sum(probs) / 2)
            )
    theta = fit_bradley_terry(len(texts), comparisons)
    np.testing.assert_allclose(ranking.scores, theta, atol=abs_tol)
