"""How far a trained policy moved from its reference, and whether that bought anything.

``evaluate_policy`` samples one response per held-out prompt from the policy and measures:

- KL to the reference: Σ_t log π(y_t|·) − log π_ref(y_t|·) over each sampled response (the
  Monte-Carlo estimate of KL(π‖π_ref) per sequence, the same instrument PPO records), averaged;
- response length (tokens, up to and including EOS);
- with a reward model as judge: the win-rate of the policy's responses against the
  reference's responses to the same prompts (ties count ½), as in the PPO trainer;
- with an AI judge (``accord.train.judged_win_rate.AIJudgeSettings``): the RLAIF pairwise
  judge's expected win-rate over the same response pairs (both presentation orders, soft
  probabilities), with its position consistency. With both judges the reward model's figure is
  ``win_rate_vs_ref`` and the AI judge's ``ai_win_rate_vs_ref``; with the AI judge alone it is
  ``win_rate_vs_ref``.

The log-prob, scoring and win-rate functions are the PPO trainer's own (rewards are read by
``accord.train.reward_read``, as in RM training), so a DPO sweep and a PPO run report
comparable numbers.

>>> from accord.workflows.policy_eval import evaluate_policy          # doctest: +SKIP
>>> evaluate_policy("runs/dpo-3", "accord/tiny", ["Hi"],  # doctest: +SKIP
...                 reward_model=".accord/runs/rm-2")
{'kl_to_ref': 0.8, 'win_rate_vs_ref': 0.56, 'response_length': 17.0, 'eval_prompts': 1, ...}
"""

from __future__ import annotations

from typing import Any

from ..hashing import content_hash


def evaluation_key(
    *,
    policy: str,
    reference: str,
    reward_model: str | None,
    prompts: list[str],
    max_new_tokens: int,
    temperature: float,
    seed: int,
    ai_judge: dict[str, Any] | None = None,
) -> str:
    """Identity of an evaluation: rerunning with the same key recomputes nothing."""
    from ..train.ref_cache import model_fingerprint

    models = [model_fingerprint(m) for m in (policy, reference, reward_model) if m]
    # Without an AI judge the key stays the one such evaluations always had.
    judged_by = () if ai_judge is None else (ai_judge,)
    return content_hash(
        "policy-eval", 1, models, prompts, max_new_tokens, temperature, seed, *judged_by
    )


def evaluate_policy(
    policy_path: str,
    reference_path: str,
    prompts: list[str],
    *,
    reward_model: str | None = None,
    max_new_tokens: int = 24,
    temperature: float = 1.0,
    max_prompt_length: int = 128,
    seed: int = 0,
    batch_size: int = 16,
    ai_judge: Any = None,
) -> dict[str, Any]:
    """KL to the reference, length, and (with ``reward_model`` or ``ai_judge``) the win-rate against
    it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..models.loading import resolve_model_path
    from ..train.instruments import win_rate
    from ..train.losses import gather_logprobs
    from ..train.ppo.forward import rollout_scores
    from ..train.ppo.rollout import SamplingSettings, TransformersRollout, decode_responses
    from ..train.ppo.trainer import response_logits
    from ..train.reward_read import RewardReader
    from ..train.rm import load_reward_model

    if not prompts:
        raise ValueError("no held-out prompts to evaluate the policy on")
    policy_path, reference_path = (
        resolve_model_path(policy_path),
        resolve_model_path(reference_path),
    )
    tokenizer = AutoTokenizer.from_pretrained(policy_path)
    policy = AutoModelForCausalLM.from_pretrained(policy_path).eval()
    reference = AutoModelForCausalLM.from_pretrained(reference_path).eval()
    scorer = None
    if reward_model:
        scorer = RewardReader(
            *load_reward_model(resolve_model_path(reward_model)), batch_size=batch_size
        )
        scorer.model.eval()
    rollout = TransformersRollout(
        tokenizer, SamplingSettings(max_new_tokens, temperature), max_prompt_length
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    kl, lengths, ours_scores, ref_scores = [], [], [], []
    ours_texts: list[str] = []
    theirs_texts: list[str] = []
    try:
        with torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                ours = rollout.generate(policy, chunk)
                mask = ours.response_mask.float()
                logp = gather_logprobs(
                    response_logits(policy, ours, temperature), ours.response_ids
                )
                ref_logp = gather_logprobs(
                    response_logits(reference, ours, temperature), ours.response_ids
                )
                kl.append(((logp - ref_logp) * mask).sum(1))
                lengths.append(mask.sum(1))
                if scorer is not None or ai_judge is not None:
                    theirs = rollout.generate(reference, chunk)
                if scorer is not None:
                    ours_scores.append(rollout_scores(scorer, tokenizer, chunk, ours))
                    ref_scores.append(rollout_scores(scorer, tokenizer, chunk, theirs))
                if ai_judge is not None:
                    ours_texts += decode_responses(tokenizer, ours)
                    theirs_texts += decode_responses(tokenizer, theirs)
    finally:
        torch.random.set_rng_state(generator_state)
    result: dict[str, Any] = {
        "kl_to_ref": torch.cat(kl).mean().item(),
        "response_length": torch.cat(lengths).mean().item(),
        "eval_prompts": len(prompts),
        "eval_judge": " + ".join(
            j for j in (reward_model, ai_judge.describe() if ai_judge else None) if j
        ),
    }
    if scorer is not None:
        ours_all, ref_all = torch.cat(ours_scores), torch.cat(ref_scores)
        result["win_rate_vs_ref"] = win_rate(ours_all, ref_all)
        result["eval_reward_mean"] = ours_all.mean().item()
        result["eval_ref_reward_mean"] = ref_all.mean().item()
    if ai_judge is not None:
        from ..train.judged_win_rate import ai_win_rate

        judged = ai_win_rate(ai_judge, prompts, ours_texts, theirs_texts)
        result["ai_win_rate_vs_ref" if scorer is not None else "win_rate_vs_ref"] = judged.win_rate
        result["ai_judge_position_consistency"] = judged.position_consistency
        result["ai_judge_failed"] = judged.failed
    return result
