"""The ``rank`` step, both methods, on real tokenizers through the transformers backend:
SmolLM2-135M-Instruct (byte-level BPE) and the SentencePiece-style Llama (dummy prefix, BOS
from the template). Scores equal an independent in-context computation within 1e-3, in both
presentation orders, with BOS once (tests/rlaif/rank_reference.py)."""

from __future__ import annotations

import pytest

from accord.jobs import run_recipe
from tests.rlaif import rank_reference as check

pytestmark = pytest.mark.slow  # real weights score every request


@pytest.fixture(params=("smollm2", "sp_llama"))
def model_dir(request):
    return str(request.getfixturevalue(f"{request.param}_dir"))


def recipe(model_dir: str, response_ids: list[int], method: str) -> dict:
    model = {"backend": "transformers", "model": model_dir}
    common = {"constitution": "tiny-test", "principles": [check.PRINCIPLE], "model": model}
    source = {"kind": "responses_for_rank_test", "name": "rs", "response_ids": response_ids}
    if method == "listwise":
        steps = [source, {"kind": "rank", "method": "listwise", **common}]
    else:
        steps = [source, {"kind": "make_pairs"}, {"kind": "judge", **common}, {"kind": "rank"}]
    return {"name": f"rank-{method}", "steps": steps}


def test_listwise_scores_equal_an_independent_reading(store, model_dir):
    ids = check.store_responses(store)
    result = run_recipe(store, recipe(model_dir, ids, "listwise"), progress=False)
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    check.check_listwise(store, model_dir)


def test_bradley_terry_scores_equal_an_independent_reading(store, model_dir):
    ids = check.store_responses(store)
    result = run_recipe(store, recipe(model_dir, ids, "bradley-terry"), progress=False)
    assert result.status == "succeeded" and result.errors == 0, result.to_dict()
    check.check_bradley_terry(store, model_dir)
