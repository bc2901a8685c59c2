"""Instruments of RLHF runs: what to watch per step, and warnings for reward hacking.

Per PPO step accord records the mean reward-model score, the KL to the reference per response
(``kl/measured``: the exact Σ_t KL(π(·|context_t) ‖ π_ref(·|context_t)) from both models' logits,
never negative; ``kl/k1``: the sampled Σ_t log π − log π_ref the reward penalises, which can
be), the KL coefficient, response
length, policy entropy, clip fractions, value loss; every ``eval_every`` steps and at the end,
the win-rate of the policy against the reference on held-out prompts, judged by the reward model
or by the RLAIF pairwise AI judge (``accord.train.judged_win_rate``); and the process's peak
memory (``memory/peak_mb``: peak resident set, or peak CUDA allocation on a GPU).

``reward_hacking_warnings`` reads that history: reward rising while KL explodes, or while the
response length drifts far from where it started, are the classic signs that the policy is
exploiting the reward model rather than improving.

>>> from accord.train.instruments import reward_hacking_warnings
>>> hist = [{"reward/mean": 0.1 * i, "kl/measured": 0.5 * 2**i, "response/length": 20}
...         for i in range(8)]
>>> reward_hacking_warnings(hist)[0].startswith("reward rose")
True
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import torch

from .losses import masked_mean

REWARD, KL, LENGTH = "reward/mean", "kl/measured", "response/length"


def rollout_instruments(
    *,
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    exact_kl: torch.Tensor,
    mask: torch.Tensor,
    entropy: torch.Tensor,
    kl_coef: float,
    contains_eos: torch.Tensor,
) -> dict[str, float]:
    """Statistics of one rollout batch (before the optimisation epochs). ``exact_kl`` is the
    per-token KL from the logits (``losses.exact_kl``), ``logprobs``/``ref_logprobs`` those of
    the sampled tokens."""
    mask_f = mask.float()
    k1_sum = ((logprobs - ref_logprobs) * mask_f).sum(1)
    kl_sum = (exact_kl.float() * mask_f).sum(1)
    return {
        REWARD: scores.float().mean().item(),
        "reward/std": scores.float().std().item() if scores.numel() > 1 else 0.0,
        KL: kl_sum.mean().item(),
        "kl/k1": k1_sum.mean().item(),
        "kl/coef": float(kl_coef),
        "objective/rlhf_reward": (scores.float() - kl_coef * kl_sum).mean().item(),
        LENGTH: mask_f.sum(1).mean().item(),
        "response/eos_fraction": contains_eos.float().mean().item(),
        "policy/entropy": masked_mean(entropy, mask_f).item(),
    }


def _window_mean(values: Sequence[float], first: bool, size: int) -> float:
    part = values[:size] if first else values[-size:]
    return sum(part) / len(part)


def reward_hacking_warnings(
    history: Sequence[dict[str, Any]],
    *,
    target_kl: float | None = None,
    kl_explosion_factor: float = 4.0,
    kl_absolute_limit: float = 20.0,
    length_drift: float = 0.5,
) -> list[str]:
    """Warnings when reward rises while KL explodes or response length drifts.

    Compares the mean of the first and last quarter of the steps (at least 1 step each). KL
    "explodes" when its late mean exceeds ``kl_explosion_factor`` × its early mean (and 1 nat),
    or ``kl_absolute_limit`` nats, or 3 × ``target_kl``. Length drifts when its late mean differs
    from its early mean by more than ``length_drift`` (a fraction).
    """
    rows = [h for h in history if REWARD in h and KL in h]
    if len(rows) < 4:
        return []
    size = max(1, len(rows) // 4)
    reward = [float(h[REWARD]) for h in rows]
    kl = [float(h[KL]) for h in rows]
    r0, r1 = _window_mean(reward, True, size), _window_mean(reward, False, size)
    k0, k1 = _window_mean(kl, True, size), _window_mean(kl, False, size)
    warnings: list[str] = []
    if r1 <= r0:
        return warnings
    exploded = (k1 > kl_explosion_factor * max(k0, 0.0) and k1 > 1.0) or k1 > kl_absolute_limit
    if target_kl is not None and k1 > 3 * target_kl:
        exploded = True
    if exploded:
        warnings.append(
            f"reward rose from {r0:.3g} to {r1:.3g} while KL to the reference grew from {k0:.3g} "
            f"to {k1:.3g} nats: "
            "possible reward hacking (raise the KL coefficient or set a KL target)"
        )
    lengths = [float(h[LENGTH]) for h in rows if LENGTH in h]
    if len(lengths) >= 4:
        l0, l1 = _window_mean(lengths, True, size), _window_mean(lengths, False, size)
        if l0 > 0 and abs(l1 - l0) / l0 > length_drift:
            warnings.append(
                f"reward rose from {r0:.3g} to {r1:.3g} while mean response length drifted from "
                f"{l0:.3g} to {l1:.3g} "
                "tokens: the reward model may be rewarding length"
            )
    return warnings


def win_rate(policy_scores: torch.Tensor, reference_scores: torch.Tensor) -> float:
    """Fraction of prompts where the policy's response outscores the reference's (ties count ½)."""
    wins = (policy_scores > reference_scores).float() + 0.5 * (
        policy_scores == reference_scores
    ).float()
    return wins.mean().item() if wins.numel() else float("nan")


def current_memory_mb() -> float:
    """Memory in use now: CUDA allocation on a GPU, else the process's resident set (MB)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.memory_allocated() / 2**20
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_memory_mb()


def peak_memory_mb() -> float:
    """Peak memory so far: peak CUDA allocation on a GPU, else the peak resident set (MB)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux
