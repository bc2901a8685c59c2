"""The transformers backend on the tiny offline model: batching, sampling, stops, log-probs,
choices."""

from __future__ import annotations

import math

import pytest
import torch

from accord.backends import Backend, GenerationRequest, make_backend

QUESTION = [{"role": "user", "content": "Can you explain black holes in simple terms?"}]
OTHER = [{"role": "user", "content": "Give me three tips about saving money."}]


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    backend = make_backend("transformers", str(tiny_model_dir), batch_size=4)
    yield backend
    backend.close()


def test_is_a_backend(backend):
    assert isinstance(backend, Backend)
    assert backend.name == "transformers"
    assert backend.model_id == str(backend.model_id)


def test_unknown_backend_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'tgi'.*transformers, openai, vllm"):
        make_backend("tgi", "accord/tiny")


def test_tiny_model_id_resolves_to_the_built_folder(tiny_models_cache):
    backend = make_backend("transformers", "accord/tiny", cache_dir=str(tiny_models_cache))
    assert backend.model_id == "accord/tiny"
    [result] = backend.generate([GenerationRequest(messages=QUESTION, max_tokens=3)])
    assert result.error is None and result.usage["completion_tokens"] == 3


def test_greedy_is_deterministic_and_independent_of_batching(backend):
    single = backend.generate([GenerationRequest(messages=QUESTION, max_tokens=12)])[0]
    batch = backend.generate(
        [
            GenerationRequest(messages=OTHER, max_tokens=5),
            GenerationRequest(messages=QUESTION, max_tokens=12),
        ]
    )
    assert batch[1].text == single.text
    assert single.finish_reason == "length"
    assert single.usage["completion_tokens"] == 12
    assert single.usage["total_tokens"] == single.usage["prompt_tokens"] + 12
    assert batch[0].usage["completion_tokens"] == 5


def test_seeded_sampling_reproduces_per_request(backend):
    def sample(seed, neighbours=0):
        reqs = [
            GenerationRequest(messages=OTHER, max_tokens=4, temperature=1.0, seed=99)
        ] * neighbours
        reqs.append(GenerationRequest(messages=QUESTION, max_tokens=20, temperature=1.0, seed=seed))
        return backend.generate(reqs)[-1].text

    assert sample(7) == sample(7, neighbours=3)
    assert len({sample(seed) for seed in range(4)}) > 1
    nucleus = backend.generate(
        [GenerationRequest(messages=QUESTION, max_tokens=20, temperature=1.0, top_p=1e-6, seed=1)]
    )[0]
    greedy = backend.generate([GenerationRequest(messages=QUESTION, max_tokens=20)])[0]
    assert nucleus.text == greedy.text  # a vanishing nucleus keeps only the top token


def test_stop_string_cuts_the_text(backend):
    free = backend.generate(
        [GenerationRequest(messages=QUESTION, max_tokens=30, temperature=1.0, seed=5)]
    )[0]
    stop = free.text[len(free.text) // 2 :][:3]
    assert stop.strip(), free.text
    stopped = backend.generate(
        [GenerationRequest(messages=QUESTION, max_tokens=30, temperature=1.0, seed=5, stop=[stop])]
    )[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == free.text[: free.text.find(stop)]
    assert stop not in stopped.text


def test_token_logprobs_and_alternatives(backend):
    result = backend.generate(
        [GenerationRequest(messages=QUESTION, max_tokens=6, logprobs=True, top_logprobs=5)]
    )[0]
    assert len(result.token_logprobs) == result.usage["completion_tokens"] == 6
    for record in result.token_logprobs:
        assert record.logprob <= 0.0
        assert len(record.top) <= 5
        # Greedy decoding picks the most likely token, which is the first alternative.
        assert record.logprob == pytest.approx(max(record.top.values()), abs=1e-5)
    plain = backend.generate([GenerationRequest(messages=QUESTION, max_tokens=6)])[0]
    assert plain.token_logprobs is None


def test_choice_logprobs_match_the_first_generated_token(backend):
    first = (
        backend.generate([GenerationRequest(messages=QUESTION, max_tokens=1, top_logprobs=2000)])[0]
        .token_logprobs[0]
        .top
    )
    [scored] = backend.generate([GenerationRequest(messages=QUESTION, choices=["A", "B"])])
    assert set(scored.choice_logprobs) == {"A", "B"}
    for choice in ("A", "B"):
        assert scored.choice_logprobs[choice] == pytest.approx(first[choice], abs=1e-4)
    assert scored.text == max(scored.choice_logprobs, key=scored.choice_logprobs.get)
    assert scored.finish_reason == "stop"


def test_multi_token_choices_score_like_an_unpadded_forward_pass(backend):
    choices = [" black holes are stars", " compound interest", "B"]
    requests = [
        GenerationRequest(messages=QUESTION, choices=choices, assistant_prefix="Answer:"),
        GenerationRequest(messages=OTHER, choices=["A", "B"]),
    ]
    results = backend.generate(requests)
    tok, model = backend.tokenizer, backend.model
    prompt = tok(backend.render(requests[0]), add_special_tokens=False)["input_ids"]
    for choice in choices:
        ids = tok(choice, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([prompt + ids])).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        expected = sum(logprobs[len(prompt) - 1 + j, t].item() for j, t in enumerate(ids))
        assert results[0].choice_logprobs[choice] == pytest.approx(expected, abs=1e-4)
    assert math.isfinite(results[1].choice_logprobs["B"])


def test_a_bad_request_fails_alone(backend):
    too_long = [{"role": "user", "content": "word " * 3000}]
    results = backend.generate(
        [
            GenerationRequest(messages=QUESTION, max_tokens=2),
            GenerationRequest(messages=too_long, max_tokens=2),
            GenerationRequest(messages=QUESTION, choices=[""]),
        ]
    )
    assert results[0].error is None and results[0].usage["completion_tokens"] == 2
    assert results[1].error.startswith("input:") and "accepts 1024" in results[1].error
    assert "no tokens" in results[2].error


def test_generation_is_clamped_to_the_context(backend):
    near_full = [{"role": "user", "content": "word " * 495}]
    [result] = backend.generate([GenerationRequest(messages=near_full, max_tokens=100)])
    assert result.error is None
    assert result.finish_reason == "length"
    assert 1024 - 100 < result.usage["prompt_tokens"] < 1024
    assert result.usage["total_tokens"] == 1024


def test_a_model_in_memory_can_back_a_backend(backend):
    from accord.backends.transformers_backend import TransformersBackend

    policy = TransformersBackend.from_loaded(backend.model, backend.tokenizer, model_id="policy@3")
    request = GenerationRequest(messages=QUESTION, max_tokens=5)
    assert policy.model_id == "policy@3"
    assert policy.generate([request])[0].text == backend.generate([request])[0].text


def test_a_sampled_row_with_nan_logits_fails_alone(tiny_model_dir):
    """NaN logits (an fp16 overflow, say) give a sampled request an error instead of a token
    picked from garbage; the other requests of its batch are answered."""
    broken = make_backend("transformers", str(tiny_model_dir), batch_size=4)

    def poison(module, args, output):
        output[..., 5] = float("nan")
        return output

    broken.model.get_output_embeddings().register_forward_hook(poison)
    results = broken.generate(
        [
            GenerationRequest(messages=QUESTION, max_tokens=4, temperature=1.0, seed=1),
            GenerationRequest(messages=OTHER, max_tokens=4, temperature=0.0),
        ]
    )
    assert "not finite" in results[0].error and results[0].text == ""
    assert results[1].error is None and results[1].usage["completion_tokens"] >= 1
    broken.close()


def test_a_model_whose_forward_lacks_logits_to_keep_still_decodes_and_scores(backend):
    """Custom model code from before ``logits_to_keep`` gets full logits instead of a
    TypeError."""
    from accord.backends.transformers_backend import TransformersBackend

    class OldForward(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.config, self.generation_config = inner.config, inner.generation_config

        @property
        def device(self):
            return self.inner.device

        def forward(
            self,
            input_ids,
            attention_mask=None,
            position_ids=None,
            past_key_values=None,
            use_cache=None,
        ):
            return self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=past_key_values,
                use_cache=use_cache,
            )

    old = TransformersBackend.from_loaded(
        OldForward(backend.model), backend.tokenizer, model_id="old", batch_size=4
    )
    requests = [
        GenerationRequest(messages=QUESTION, max_tokens=6),
        GenerationRequest(messages=OTHER, max_tokens=6, temperature=1.0, seed=3),
        GenerationRequest(messages=QUESTION, choices=["A", "B"]),
    ]
    ours, theirs = old.generate(requests), backend.generate(requests)
    assert [r.error for r in ours] == [None, None, None]
    assert [r.text for r in ours] == [r.text for r in theirs]
    for choice, value in theirs[2].choice_logprobs.items():
        assert ours[2].choice_logprobs[choice] == pytest.approx(value, abs=1e-5)


def test_sampled_transformers_requests_are_cached_under_the_sampler_version():
    """A seeded sampled request gives other tokens under another sampler, so its cache key
    names the sampler; greedy requests, choices and other backends keep the keys they had."""
    from accord.backends.decoding import SAMPLER
    from accord.hashing import content_hash
    from accord.jobs.cache import cache_key

    def keys(request, backend="transformers"):
        new = cache_key(step="generate", model_id="m", backend=backend, request=request)
        old = content_hash("cache", "generate", "m", backend, request.cache_payload())
        return new, old

    sampled = GenerationRequest(messages=QUESTION, temperature=0.7, seed=1)
    new, old = keys(sampled)
    assert new != old and new == content_hash(
        "cache", "generate", "m", "transformers", {**sampled.cache_payload(), "sampler": SAMPLER}
    )
    for request, name in (
        (GenerationRequest(messages=QUESTION, seed=1), "transformers"),
        (GenerationRequest(messages=QUESTION, choices=["A", "B"], temperature=1.0), "transformers"),
        (sampled, "openai"),
        (sampled, "vllm"),
    ):
        new, old = keys(request, name)
        assert new == old
