"""How a loop round is judged: samples of each policy on held-out prompts, the AI judge's
win-rate of round k over round 0 and over round k−1 (both presentation orders), with a paired
bootstrap CI over prompts, the mean response length and the KL to the DPO reference.

Sample ``j`` of a prompt is drawn with the same seed for every policy, and the win-rate of a
prompt is the mean over its ``samples`` matched pairs; the bootstrap resamples prompts, so the
interval is paired (both policies answered the same prompts). KL is the Monte-Carlo estimate
Σ_t log π(y_t|·) − log π_ref(y_t|·) over the policy's own samples, averaged (the PPO trainer's
instrument).

>>> paired_win_rate([[0.9, 0.7], [0.4, 0.6], [0.8, 0.8]], resamples=200, seed=0)["n_prompts"]
3
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...audit.bootstrap import BootstrapConfig, bootstrap_ci


@dataclass
class PolicySamples:
    """One policy's responses to the held-out prompts: ``texts[i][j]`` is sample j of prompt i."""

    texts: list[list[str]]
    lengths: list[float]
    kl_to_ref: float | None = None

    @property
    def mean_length(self) -> float:
        return float(np.mean(self.lengths)) if self.lengths else float("nan")


def sample_policy(
    policy_path: str,
    prompts: list[str],
    *,
    samples: int,
    max_new_tokens: int,
    temperature: float,
    seed: int,
    reference_path: str | None = None,
    batch_size: int = 16,
    max_prompt_length: int = 256,
) -> PolicySamples:
    """``samples`` responses per prompt (seeded per sample index), their token lengths and,
    with ``reference_path``, the mean KL to that reference."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ...models.loading import resolve_model_path
    from ...train.losses import gather_logprobs
    from ...train.ppo.rollout import SamplingSettings, TransformersRollout, decode_responses
    from ...train.ppo.trainer import response_logits

    path = resolve_model_path(policy_path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    policy = AutoModelForCausalLM.from_pretrained(path).eval()
    reference = (
        AutoModelForCausalLM.from_pretrained(resolve_model_path(reference_path)).eval()
        if reference_path and reference_path != policy_path
        else None
    )
    rollout = TransformersRollout(
        tokenizer, SamplingSettings(max_new_tokens, temperature), max_prompt_length
    )
    texts: list[list[str]] = [[] for _ in prompts]
    lengths: list[float] = []
    kls: list[float] = []
    state = torch.random.get_rng_state()
    try:
        with torch.no_grad():
            for j in range(samples):
                torch.manual_seed(seed + j)
                for start in range(0, len(prompts), batch_size):
                    chunk = prompts[start : start + batch_size]
                    batch = rollout.generate(policy, chunk)
                    for i, text in enumerate(decode_responses(tokenizer, batch)):
                        texts[start + i].append(text)
                    mask = batch.response_mask.float()
                    lengths += mask.sum(1).tolist()
                    if reference is not None:
                        logp = gather_logprobs(
                            response_logits(policy, batch, temperature), batch.response_ids
                        )
                        ref = gather_logprobs(
                            response_logits(reference, batch, temperature), batch.response_ids
                        )
                        kls += ((logp - ref) * mask).sum(1).tolist()
    finally:
        torch.random.set_rng_state(state)
    kl = float(np.mean(kls)) if reference is not None else (0.0 if reference_path else None)
    return PolicySamples(texts=texts, lengths=lengths, kl_to_ref=kl)


def paired_win_rate(
    per_prompt: list[list[float]], *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Mean P(ours ≻ theirs) with a bootstrap CI over prompts (each prompt: its samples' mean)."""
    means = np.array([float(np.mean(p)) for p in per_prompt if p])
    estimate = bootstrap_ci(
        np.mean,
        means,
        config=BootstrapConfig(n_resamples=resamples, confidence_level=confidence, seed=seed),
    )
    out = estimate.to_dict()
    return {
        "win_rate": out["value"],
        "low": out["low"],
        "high": out["high"],
        "n_prompts": int(means.size),
        "confidence": confidence,
    }


def judged_probabilities(
    judge, prompts: list[str], ours: PolicySamples, theirs: PolicySamples, calibrate=None
) -> tuple[list[list[float]], dict[str, Any]]:
    """P(ours ≻ theirs) for each matched sample pair, grouped by prompt (both orders averaged
    by the judge); prompts the judge could not answer at all are left out and counted."""
    per_prompt: list[list[float]] = []
    consistency: list[float] = []
    failed = 0
    for i, prompt in enumerate(prompts):
        n = len(ours.texts[i])
        try:
            judged = judge([prompt] * n, ours.texts[i], theirs.texts[i])
        except RuntimeError:  # no usable judgment for any sample of this prompt
            failed += n
            continue
        probs = judged.probabilities
        if calibrate is not None:
            probs = [float(p) for p in calibrate(np.asarray(probs, dtype=float))]
        per_prompt.append(probs)
        consistency.append(judged.position_consistency)
        failed += judged.failed
    return per_prompt, {
        "judge_position_consistency": float(np.mean(consistency)) if consistency else None,
        "judge_failed": failed,
    }
