"""The decoding loop on real tokenizers: greedy output is ``model.generate``'s, token for token,
for a batch of prompts of different lengths (left padding, positions, BOS, pad == eos), and
seeded sampling reproduces per request whatever shares its batch."""

from __future__ import annotations

import pytest
import torch

from accord.backends import GenerationRequest, make_backend

pytestmark = pytest.mark.slow  # real models

MODELS = ("smollm2", "sp_llama")
QUESTIONS = [
    "Hi!",
    "Can you explain black holes in simple terms, for a child of ten?",
    "Give me three tips about saving money.",
]


@pytest.fixture(scope="module", params=MODELS)
def backend(request):
    model_dir = str(request.getfixturevalue(f"{request.param}_dir"))
    backend = make_backend("transformers", model_dir, batch_size=3, device="cpu")
    yield backend
    backend.close()


def _requests(**sampling):
    return [
        GenerationRequest(messages=[{"role": "user", "content": q}], max_tokens=12, **sampling)
        for q in QUESTIONS
    ]


def test_greedy_batch_equals_model_generate_token_for_token(backend):
    tokenizer, model = backend.tokenizer, backend.model
    ours = backend.generate(_requests())
    for request, result in zip(_requests(), ours):
        text = tokenizer.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True
        )
        enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=12,
                do_sample=False,
                eos_token_id=sorted(backend.eos_ids),
                pad_token_id=tokenizer.pad_token_id,
            )
        theirs = out[0, enc["input_ids"].shape[1] :].tolist()
        ends = [i for i, t in enumerate(theirs) if t in backend.eos_ids]
        theirs = theirs[: ends[0] + 1] if ends else theirs
        assert result.usage["completion_tokens"] == len(theirs)
        assert result.text == tokenizer.decode(theirs, skip_special_tokens=True)


def test_seeded_sampling_is_the_same_alone_and_in_a_batch(backend):
    requests = _requests(temperature=1.0, top_p=0.9)
    for seed, request in zip((11, -4, 7), requests):  # distinct draws per row
        request.seed = seed
    requests[2].top_p = 1.0
    batch = backend.generate(requests)
    alone = [backend.generate([r])[0] for r in requests]
    shuffled = backend.generate(requests[::-1])[::-1]
    assert [r.text for r in batch] == [r.text for r in alone] == [r.text for r in shuffled]
    assert all(r.error is None for r in batch)
