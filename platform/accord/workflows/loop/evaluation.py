"""How a loop round is judged: samples of each policy on held-out prompts, the win-rate of
round k over round 0 and over round k−1 by the AI judge (both presentation orders) and, with
``eval_reward_model``, by a held-out reward model, each with a paired bootstrap CI over prompts
and a length-controlled win-rate beside it (``length_control``); the mean response length and
the KL to the DPO reference.

Sample ``j`` of a prompt is drawn with the same seed for every policy, and the win-rate of a
prompt is the mean over its ``samples`` matched pairs; the bootstrap resamples prompts, so the
interval is paired (both policies answered the same prompts). KL is reported twice over the
policy's own samples: ``kl_to_ref``, the Monte-Carlo estimate Σ_t log π(y_t|·) − log π_ref(y_t|·)
(the PPO trainer's ``kl/k1``), and ``kl_exact``, Σ_t KL(π(·|y_<t) ‖ π_ref(·|y_<t)) summed over
the vocabulary from both models' logits (``accord.train.losses.exact_kl``, the PPO trainer's
``kl/measured``), never negative and of lower variance; both averaged over samples.

>>> paired_win_rate([[0.9, 0.7], [0.4, 0.6], [0.8, 0.8]], resamples=200, seed=0)["n_prompts"]
3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...audit.bootstrap import BootstrapConfig, bootstrap_ci


@dataclass
class PolicySamples:
    """One policy's responses to the held-out prompts: ``texts[i][j]`` is sample j of prompt i,
    ``lengths[i][j]`` its tokens (up to and including EOS), ``finished[i][j]`` whether it ended
    with EOS. ``kl_to_ref`` is the Monte-Carlo KL (Σ_t log π − log π_ref over the sampled
    tokens, averaged over samples), ``kl_exact`` the exact one (Σ_t Σ_v π·(log π − log π_ref)
    from both models' full logits at every position of the samples, averaged)."""

    texts: list[list[str]]
    lengths: list[list[float]]
    finished: list[list[bool]] = field(default_factory=list)
    kl_to_ref: float | None = None
    kl_exact: float | None = None
    backend: str = "transformers"

    @property
    def mean_length(self) -> float:
        flat = [x for row in self.lengths for x in row]
        return float(np.mean(flat)) if flat else float("nan")


def _vllm_rollout(path: str, tokenizer, sampling, max_prompt_length: int, seed: int, options):
    from ...train.ppo.rollout import VLLMRollout

    keep = {k: options[k] for k in ("gpu_memory_utilization", "dtype") if k in options}
    if "kv_cache_space_gib" in options:
        import os

        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(options["kv_cache_space_gib"])
    return VLLMRollout(path, tokenizer, sampling, max_prompt_length, seed=seed, **keep)


def _close_vllm(rollout) -> None:
    import gc

    llm, rollout.llm = getattr(rollout, "llm", None), None
    if llm is not None:
        engine_core = getattr(llm.llm_engine, "engine_core", None)
        if engine_core is not None and hasattr(engine_core, "shutdown"):
            engine_core.shutdown()
        del llm
    gc.collect()


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
    backend: str = "transformers",
    backend_options: dict[str, Any] | None = None,
) -> PolicySamples:
    """``samples`` responses per prompt (seeded per sample index), their token lengths and,
    with ``reference_path``, the Monte-Carlo and the exact KL to that reference. ``backend``
    ``vllm`` samples with an in-process vLLM engine on the policy's folder (the PPO rollout
    engine); log-probs and KL are always computed with the policy itself in transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ...models.loading import resolve_model_path
    from ...train.losses import exact_kl, gather_logprobs
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
    sampling = SamplingSettings(max_new_tokens, temperature)
    if backend == "vllm":
        rollout = _vllm_rollout(
            path, tokenizer, sampling, max_prompt_length, seed, backend_options or {}
        )
    else:
        rollout = TransformersRollout(tokenizer, sampling, max_prompt_length)
    texts: list[list[str]] = [[] for _ in prompts]
    lengths: list[list[float]] = [[] for _ in prompts]
    finished: list[list[bool]] = [[] for _ in prompts]
    kls: list[float] = []
    exact: list[float] = []
    state = torch.random.get_rng_state()
    try:
        with torch.no_grad():
            for j in range(samples):
                torch.manual_seed(seed + j)
                if backend == "vllm":
                    rollout.params.seed = seed + j
                for start in range(0, len(prompts), batch_size):
                    chunk = prompts[start : start + batch_size]
                    batch = rollout.generate(policy, chunk)
                    mask = batch.response_mask.float()
                    for i, text in enumerate(decode_responses(tokenizer, batch)):
                        texts[start + i].append(text)
                        lengths[start + i].append(float(mask[i].sum()))
                        finished[start + i].append(bool(batch.contains_eos[i]))
                    if reference is not None:
                        logits = response_logits(policy, batch, temperature)
                        ref_logits = response_logits(reference, batch, temperature)
                        logp = gather_logprobs(logits, batch.response_ids)
                        ref = gather_logprobs(ref_logits, batch.response_ids)
                        kls += ((logp - ref) * mask).sum(1).tolist()
                        exact += (exact_kl(logits, ref_logits) * mask).sum(1).tolist()
                        del logits, ref_logits
    finally:
        torch.random.set_rng_state(state)
        if backend == "vllm":
            _close_vllm(rollout)
    if reference is not None:
        kl, kl_exact = float(np.mean(kls)), float(np.mean(exact))
    else:
        kl = kl_exact = 0.0 if reference_path else None
    return PolicySamples(
        texts=texts,
        lengths=lengths,
        finished=finished,
        kl_to_ref=kl,
        kl_exact=kl_exact,
        backend=backend,
    )


def paired_win_rate(
    per_prompt: list[list[float]], *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Mean P(ours ≻ theirs) with a bootstrap CI over prompts (each prompt: the mean of its
    judged samples; NaN marks a sample pair with no judgment, a prompt with none is left out)."""
    rows = [np.asarray(p, dtype=float) for p in per_prompt]
    means = np.array([float(np.mean(r[np.isfinite(r)])) for r in rows if np.isfinite(r).any()])
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


def compare(
    preference: list[list[float]],
    ours: PolicySamples,
    theirs: PolicySamples,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """Win-rate with its paired CI, and beside it (``lc``) the length-controlled win-rate
    (``accord.workflows.loop.length_control``) of the same preferences."""
    from .length_control import length_controlled_win_rate

    diffs = [
        [a - b for a, b in zip(mine, other)] for mine, other in zip(ours.lengths, theirs.lengths)
    ]
    kept = [i for i, p in enumerate(preference) if np.isfinite(np.asarray(p, float)).any()]
    out = paired_win_rate(preference, resamples=resamples, confidence=confidence, seed=seed)
    if kept:
        out["lc"] = length_controlled_win_rate(
            [preference[i] for i in kept],
            [diffs[i] for i in kept],
            resamples=resamples,
            confidence=confidence,
            seed=seed,
        )
    return out


def judged_probabilities(
    judge, prompts: list[str], ours: PolicySamples, theirs: PolicySamples, calibrate=None
) -> tuple[list[list[float]], dict[str, Any]]:
    """P(ours ≻ theirs) for each matched sample pair, grouped by prompt (both orders averaged
    by the judge); a pair the judge could not answer is NaN, and counted."""
    per_prompt: list[list[float]] = []
    consistency: list[float] = []
    failed = 0
    for i, prompt in enumerate(prompts):
        n = len(ours.texts[i])
        row = [float("nan")] * n
        per_prompt.append(row)
        try:
            judged = judge([prompt] * n, ours.texts[i], theirs.texts[i])
        except RuntimeError:  # no usable judgment for any sample of this prompt
            failed += n
            continue
        probs = judged.probabilities
        if calibrate is not None:
            probs = [float(p) for p in calibrate(np.asarray(probs, dtype=float))]
        indices = judged.indices or list(range(len(probs)))
        for j, p in zip(indices, probs, strict=True):
            row[j] = float(p)
        consistency.append(judged.position_consistency)
        failed += judged.failed
    return per_prompt, {
        "judge_position_consistency": float(np.mean(consistency)) if consistency else None,
        "judge_failed": failed,
    }


def sample_rewards(reader, prompts: list[str], samples: PolicySamples) -> list[list[float]]:
    """The held-out reward model's score of every sample (``accord.train.reward_read``: the
    reward read exactly as the model was trained; an unfinished sample is scored as such)."""
    flat = [(i, j) for i in range(len(prompts)) for j in range(len(samples.texts[i]))]
    finished = [samples.finished[i][j] for i, j in flat] if samples.finished else None
    scores = reader(
        [prompts[i] for i, _ in flat], [samples.texts[i][j] for i, j in flat], finished=finished
    ).tolist()
    out: list[list[float]] = [[] for _ in prompts]
    for (i, _), score in zip(flat, scores, strict=True):
        out[i].append(float(score))
    return out


def reward_preferences(ours: list[list[float]], theirs: list[list[float]]) -> list[list[float]]:
    """Per sample pair: 1 when our reward is higher, ½ on a tie, 0 below (NaN: no reward), the
    PPO instrument's win rule (``accord.train.instruments.win_rate``)."""

    def one(a: float, b: float) -> float:
        if not (np.isfinite(a) and np.isfinite(b)):
            return float("nan")
        return 1.0 if a > b else 0.5 if a == b else 0.0

    return [[one(a, b) for a, b in zip(x, y)] for x, y in zip(ours, theirs)]
