"""Choice scoring in context on real tokenizers: SmolLM2-135M-Instruct (byte-level BPE, real
weights) and a SentencePiece-style Llama (dummy prefix, BOS from the template). The
transformers backend's choice log-probs, and the judge's P(A), equal an independent forward
pass over the full token ids, in both presentation orders."""

from __future__ import annotations

import pytest

from accord.backends import GenerationRequest, make_backend
from accord.backends.scoring import choice_tokens
from accord.rlaif.judge import ANSWER_PREFIX, OPTIONS, p_shown_a
from tests.fixtures import choice_scoring as ref

pytestmark = pytest.mark.slow  # real models

MODELS = ("smollm2", "sp_llama")
MULTI = [" Boil it in water", " It is a blue rock", "B"]


@pytest.fixture(scope="module", params=MODELS)
def model_dir(request):
    return str(request.getfixturevalue(f"{request.param}_dir"))


@pytest.fixture(scope="module")
def backend(model_dir):
    backend = make_backend("transformers", model_dir, batch_size=4)
    yield backend
    backend.close()


def judge_request(order: str) -> GenerationRequest:
    return GenerationRequest(
        messages=ref.judge_request_messages(order),
        max_tokens=1,
        choices=list(OPTIONS),
        assistant_prefix=ANSWER_PREFIX,
    )


def test_p_a_equals_an_independent_forward_pass_in_both_orders(backend, model_dir):
    results = backend.generate([judge_request("ab"), judge_request("ba")])
    for order, result in zip(("ab", "ba"), results):
        assert result.error is None
        text = ref.rendered(model_dir, ref.judge_request_messages(order))
        assert result.scored_text == text
        want = {c: ref.in_context(model_dir, text, c) for c in OPTIONS}
        for choice in OPTIONS:
            assert result.choice_logprobs[choice] == pytest.approx(want[choice], abs=1e-3)
        assert p_shown_a(result.choice_logprobs) == pytest.approx(
            ref.p_a(want["A"], want["B"]), abs=1e-3
        )


def test_bos_appears_once_in_what_is_scored(backend, model_dir):
    [result] = backend.generate([judge_request("ab")])
    tokenizer = backend.tokenizer
    ids = tokenizer(result.scored_text, add_special_tokens=False)["input_ids"]
    assert ids.count(tokenizer.bos_token_id) == result.scored_text.count(tokenizer.bos_token)
    assert ids[:2] != [tokenizer.bos_token_id] * 2


def test_multi_token_choices(backend, model_dir):
    request = judge_request("ab")
    request.choices = list(MULTI)
    [result] = backend.generate([request])
    text = ref.rendered(model_dir, ref.judge_request_messages("ab"))
    _, plans = choice_tokens(backend.tokenizer, text, MULTI)
    assert max(len(p.scored_ids) for p in plans) >= 3
    for choice in MULTI:
        assert result.choice_logprobs[choice] == pytest.approx(
            ref.in_context(model_dir, text, choice), abs=1e-3
        )
    assert result.text == max(MULTI, key=result.choice_logprobs.get)


def test_a_choice_is_not_tokenized_alone(sp_llama_dir):
    """Regression: the SentencePiece dummy prefix makes "A" alone "▁A" ("( A"), while after
    "(" it is "A". The backend must score the latter."""
    model_dir = str(sp_llama_dir)
    backend = make_backend("transformers", model_dir)
    [result] = backend.generate([judge_request("ab")])
    text = ref.rendered(model_dir, ref.judge_request_messages("ab"))
    tokenizer = backend.tokenizer
    alone = tokenizer("A", add_special_tokens=False)["input_ids"]
    _, [plan] = choice_tokens(tokenizer, text, ["A"])
    assert tokenizer.convert_ids_to_tokens(alone) == ["▁A"]
    assert tokenizer.convert_ids_to_tokens(plan.scored_ids) == ["A"]
    right, wrong = ref.in_context(model_dir, text, "A"), ref.choice_alone(model_dir, text, "A")
    assert abs(right - wrong) > 0.05
    assert result.choice_logprobs["A"] == pytest.approx(right, abs=1e-3)


def test_a_token_merging_across_the_boundary_is_scored_whole(smollm2_dir):
    """Byte-level BPE merges the prefix's trailing space with the answer (" Yes"): the merged
    token is scored from the position before it."""
    model_dir = str(smollm2_dir)
    backend = make_backend("transformers", model_dir)
    messages = [{"role": "user", "content": "Is the sun a star? Answer Yes or No."}]
    request = GenerationRequest(
        messages=messages, choices=["Yes", "No"], assistant_prefix="The answer is: "
    )
    [result] = backend.generate([request])
    text = ref.rendered(model_dir, messages, "The answer is: ")
    prompt_ids, plans = choice_tokens(backend.tokenizer, text, ["Yes", "No"])
    assert all(p.start == len(prompt_ids) - 1 for p in plans)
    for choice in ("Yes", "No"):
        assert result.choice_logprobs[choice] == pytest.approx(
            ref.in_context(model_dir, text, choice), abs=1e-3
        )


def test_one_batch_mixing_shared_context_and_multi_token_choices(backend, model_dir):
    # Single-token choices run the prompt once for all choices; multi-token ones run once per
    # choice; one batch holds both kinds and every figure still equals its own forward pass.
    multi = judge_request("ba")
    multi.choices = list(MULTI)
    results = backend.generate([judge_request("ab"), multi, judge_request("ba")])
    for request, result in zip(("ab", "ba", "ba"), results):
        text = ref.rendered(model_dir, ref.judge_request_messages(request))
        for choice, got in result.choice_logprobs.items():
            assert got == pytest.approx(ref.in_context(model_dir, text, choice), abs=1e-3), choice
    assert set(results[1].choice_logprobs) == set(MULTI)
