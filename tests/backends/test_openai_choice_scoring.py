"""The openai backend against vLLM's OpenAI-compatible server serving the real-tokenizer
fixtures (SmolLM2, the SentencePiece Llama). With ``tokenizer=`` accord renders the template
and scores each choice in context on the completions endpoint: the log-probs equal an
independent transformers forward pass. On the chat endpoint vLLM continues the answer prefix;
a choice cut off by top-k is flagged, and an answer that starts no choice is unparsable."""

from __future__ import annotations

import pytest

from accord.backends import GenerationRequest, make_backend
from accord.rlaif.judge import ANSWER_PREFIX, OPTIONS, p_shown_a
from tests.fixtures import choice_scoring as ref

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

MULTI = [" Boil it in water", " It is a blue rock", "B"]
NEITHER = ["Ω-left", "Ω-right"]


@pytest.fixture(scope="module", params=("smollm2", "sp_llama"))
def served(request, vllm_openai_servers):
    model_dir = str(request.getfixturevalue(f"{request.param}_dir"))
    name = f"accord/{request.param}"
    return model_dir, vllm_openai_servers.url(model_dir, name), name


def judge_request(order: str, choices=OPTIONS, **extra) -> GenerationRequest:
    return GenerationRequest(
        messages=ref.judge_request_messages(order),
        max_tokens=1,
        choices=list(choices),
        assistant_prefix=ANSWER_PREFIX,
        **extra,
    )


def only_smollm2(name: str) -> None:
    if name != "accord/smollm2":
        pytest.skip(
            "the SentencePiece fixture's template puts a space before assistant "
            "content, so a continued chat turn is not the locally rendered text"
        )


def test_in_context_scoring_on_the_completions_endpoint(served):
    model_dir, url, name = served
    backend = make_backend("openai", name, base_url=url, tokenizer=model_dir, timeout=300)
    requests = [judge_request("ab"), judge_request("ba"), judge_request("ab", MULTI)]
    results = backend.generate(requests)
    for request, result in zip(requests, results):
        assert result.error is None and result.raw["endpoint"] == "completions"
        text = ref.rendered(model_dir, request.messages)
        assert result.scored_text == text and not result.truncated_choice
        for choice in request.choices:
            assert result.choice_logprobs[choice] == pytest.approx(
                ref.in_context(model_dir, text, choice), abs=1e-3
            )
    for result in results[:2]:
        want = ref.p_a(*(ref.in_context(model_dir, result.scored_text, c) for c in OPTIONS))
        assert p_shown_a(result.choice_logprobs) == pytest.approx(want, abs=1e-3)
    # A prefix without choices is continued from the locally rendered text as well.
    prefix = GenerationRequest(
        messages=requests[0].messages, max_tokens=3, assistant_prefix="Let's think step by step:"
    )
    [continued] = backend.generate([prefix])
    text = ref.rendered(model_dir, prefix.messages, prefix.assistant_prefix)
    _, tokenizer = ref.load(model_dir)
    assert continued.error is None and continued.raw["endpoint"] == "completions"
    assert continued.usage["prompt_tokens"] == len(
        tokenizer(text, add_special_tokens=False)["input_ids"]
    )


def test_chat_endpoint_continues_the_prefix(served):
    model_dir, url, name = served
    only_smollm2(name)
    backend = make_backend("openai", name, base_url=url, timeout=300)
    results = backend.generate([judge_request("ab"), judge_request("ba")])
    for order, result in zip(("ab", "ba"), results):
        assert result.error is None and result.raw["constraint"] == "structured_outputs"
        assert result.scored_text is None  # the server rendered the template
        text = ref.rendered(model_dir, ref.judge_request_messages(order))
        want = ref.p_a(*(ref.in_context(model_dir, text, c) for c in OPTIONS))
        assert p_shown_a(result.choice_logprobs) == pytest.approx(want, abs=1e-3)


def test_truncated_choice_and_unparsable_answer(served):
    _, url, name = served
    only_smollm2(name)
    plain = make_backend("openai", name, base_url=url, choice_constraint="none", timeout=300)
    truncated, unreadable = plain.generate(
        [judge_request("ab", ["A", "Ω-left"], top_logprobs=20), judge_request("ab", NEITHER)]
    )
    assert truncated.error is None and truncated.truncated_choice
    assert truncated.raw["truncated"] == ["Ω-left"]
    listed = truncated.token_logprobs[0].top
    assert truncated.choice_logprobs["Ω-left"] == pytest.approx(min(listed.values()))
    assert truncated.choice_logprobs["A"] > truncated.choice_logprobs["Ω-left"]
    assert unreadable.error.startswith("unparsable: ") and unreadable.choice_logprobs is None
    assert "Ω-left" in unreadable.error
