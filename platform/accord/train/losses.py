"""Loss functions shared by every accord trainer and by the tabular bandit checks.

Preference losses take per-sequence log-ratios ``log π(y|x) − log π_ref(y|x)`` of the chosen and
rejected completions and return one loss per sequence, with the same definitions as trl's
``DPOTrainer`` (reverse-KL form). ``soft_preference_loss`` adds what trl lacks: the expected loss
under a judged preference probability p = P(chosen ≻ rejected),
``p·L(chosen, rejected) + (1 − p)·L(rejected, chosen)``, which equals the hard loss at p = 1.

PPO pieces follow the InstructGPT recipe as trl's former ``PPOTrainer`` wrote it: per-token KL
penalty in the reward with the reward-model score at the last token, GAE, whitening, clipped
surrogate and clipped value losses.

>>> import torch
>>> from accord.train.losses import preference_loss, soft_preference_loss
>>> c, r = torch.tensor([0.5]), torch.tensor([-0.5])
>>> round(preference_loss(c, r, beta=0.1, loss_type="sigmoid").item(), 4)
0.6444
>>> hard = preference_loss(c, r, beta=0.1).item()
>>> soft_preference_loss(c, r, torch.tensor([1.0]), beta=0.1).item() == hard
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .loss_settings import (  # noqa: F401 (re-exported: the names the losses were read from)
    DEFAULT_GAE_LAMBDA,
    KL_ESTIMATORS,
    REWARD_KL_ESTIMATORS,
    check_reward_kl_estimator,
)

# Losses that are a function of the two log-ratios (and completion lengths) of each pair, so they
# can be evaluated with chosen and rejected swapped (the soft-label expectation needs that).
PAIRWISE_LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "apo_zero",
    "apo_down",
    "discopop",
    "sigmoid_norm",
)
# Pairwise losses whose soft-label expectation ignores the label's value: for hinge,
# p·relu(1 − βΔ) + (1 − p)·relu(1 + βΔ) has slope β·(1 − 2p) inside the margin, so every
# p > 0.5 drives Δ to the same +1/β as p = 1. accord refuses soft labels for them.
HARD_LABEL_ONLY_LOSS_TYPES = ("hinge",)
# trl loss types that need more than the pair's log-ratios; accord leaves them to trl itself.
TRL_ONLY_LOSS_TYPES = ("aot", "aot_unpaired")


def preference_loss(
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    *,
    beta: float,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
    discopop_tau: float = 0.05,
) -> torch.Tensor:
    """Per-sequence DPO-family loss, exactly as trl 1.16 defines ``loss_type``.

    ``*_lengths`` are completion token counts, used by ``ipo`` and ``sigmoid_norm`` (trl
    normalises their log-ratios per token); they default to 1.
    """
    delta = chosen_logratios - rejected_logratios
    if loss_type == "sigmoid":
        return -F.logsigmoid(beta * delta)
    if loss_type == "hinge":
        return torch.relu(1 - beta * delta)
    if loss_type in ("ipo", "sigmoid_norm"):
        cl = chosen_lengths.clamp(min=1.0) if chosen_lengths is not None else 1.0
        rl = rejected_lengths.clamp(min=1.0) if rejected_lengths is not None else 1.0
        avg_delta = chosen_logratios / cl - rejected_logratios / rl
        if loss_type == "ipo":
            return (avg_delta - 1 / (2 * beta)) ** 2
        return -F.logsigmoid(beta * avg_delta)
    if loss_type == "exo_pair":
        if label_smoothing <= 0.0:
            raise ValueError(
                "loss_type 'exo_pair' needs label_smoothing > 0 (the EXO paper uses 1e-3)"
            )
        eps = torch.tensor(label_smoothing, dtype=delta.dtype, device=delta.device)
        qw, log_qw = torch.sigmoid(beta * delta), F.logsigmoid(beta * delta)
        ql, log_ql = torch.sigmoid(-beta * delta), F.logsigmoid(-beta * delta)
        return qw * (log_qw - torch.log1p(-eps)) + ql * (log_ql - torch.log(eps))
    if loss_type == "nca_pair":
        cr, rr = beta * chosen_logratios, beta * rejected_logratios
        return -F.logsigmoid(cr) - 0.5 * F.logsigmoid(-cr) - 0.5 * F.logsigmoid(-rr)
    if loss_type == "robust":
        clean = -(1 - label_smoothing) * F.logsigmoid(beta * delta)
        flipped = -label_smoothing * F.logsigmoid(-beta * delta)
        return (clean - flipped) / (1 - 2 * label_smoothing)
    if loss_type == "bco_pair":
        return -F.logsigmoid(beta * chosen_logratios) - F.logsigmoid(-beta * rejected_logratios)
    if loss_type == "sppo_hard":
        return (chosen_logratios - 0.5 / beta) ** 2 + (rejected_logratios + 0.5 / beta) ** 2
    if loss_type == "apo_zero":
        return (1 - torch.sigmoid(beta * chosen_logratios)) + torch.sigmoid(
            beta * rejected_logratios
        )
    if loss_type == "apo_down":
        return torch.sigmoid(beta * chosen_logratios) + (1 - torch.sigmoid(beta * delta))
    if loss_type == "discopop":
        logits = beta * delta
        modulation = torch.sigmoid(logits / discopop_tau)
        return -F.logsigmoid(logits) * (1 - modulation) + torch.exp(-logits) * modulation
    raise ValueError(
        f"unknown preference loss_type {loss_type!r}; accord computes {list(PAIRWISE_LOSS_TYPES)} "
        f"(and 'sft'); {list(TRL_ONLY_LOSS_TYPES)} are trl-only and take no soft labels"
    )


def soft_preference_loss(
    chosen_logratios: torch.Tensor,
    rejected_logratios: torch.Tensor,
    prob: torch.Tensor,
    *,
    beta: float,
    loss_type: str = "sigmoid",
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
    **kwargs,
) -> torch.Tensor:
    """Expected per-sequence loss when chosen ≻ rejected holds with probability ``prob``.

    ``p·L(c, r) + (1 − p)·L(r, c)``: a judged 0.7 pulls the policy toward a 0.7 preference instead
    of pretending the judge was certain (``hinge`` refuses probabilities strictly between 0 and 1:
    its expectation ignores them). For ``sigmoid`` the minimiser satisfies
    ``β·(Δ log-ratio) = logit(p)``, so Bradley–Terry soft labels recover π ∝ π_ref·exp(R/β).
    """
    prob = prob.to(chosen_logratios.dtype)
    if loss_type in HARD_LABEL_ONLY_LOSS_TYPES and bool(((prob > 0) & (prob < 1)).any()):
        raise ValueError(
            f"loss_type {loss_type!r} ignores soft labels (every p > 0.5 reaches the same optimum "
            "as "
            "p = 1): train it on hard labels (soft_labels=False) or use a loss that uses them "
            "(sigmoid)"
        )
    forward = preference_loss(
        chosen_logratios,
        rejected_logratios,
        beta=beta,
        loss_type=loss_type,
        chosen_lengths=chosen_lengths,
        rejected_lengths=rejected_lengths,
        **kwargs,
    )
    backward = preference_loss(
        rejected_logratios,
        chosen_logratios,
        beta=beta,
        loss_type=loss_type,
        chosen_lengths=rejected_lengths,
        rejected_lengths=chosen_lengths,
        **kwargs,
    )
    return prob * forward + (1 - prob) * backward


def sft_loss(per_token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood over the masked tokens (trl's ``"sft"`` term, used for RPO)."""
    return -per_token_logps[mask.bool()].mean()


# ---------------------------------------------------------------- PPO / RLHF pieces


def masked_mean(
    values: torch.Tensor, mask: torch.Tensor | None = None, dim: int | None = None
) -> torch.Tensor:
    if mask is None:
        return values.mean() if dim is None else values.mean(dim)
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def masked_var(
    values: torch.Tensor, mask: torch.Tensor | None = None, unbiased: bool = True
) -> torch.Tensor:
    mean = masked_mean(values, mask)
    centered = (values - mean) ** 2
    var = masked_mean(centered, mask)
    if unbiased:
        n = values.numel() if mask is None else mask.sum()
        n = torch.as_tensor(n, dtype=values.dtype)
        if n > 1:
            var = var * n / (n - 1)
    return var


def whiten(
    values: torch.Tensor, mask: torch.Tensor | None = None, shift_mean: bool = True
) -> torch.Tensor:
    """Normalise to unit variance (and zero mean unless ``shift_mean=False``) over masked
    entries."""
    mean, var = masked_mean(values, mask), masked_var(values, mask)
    out = (values - mean) * torch.rsqrt(var + 1e-8)
    return out if shift_mean else out + mean


def kl_per_token(
    logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k1"
) -> torch.Tensor:
    """Per-token KL estimate on sampled tokens: ``k1 = log π − log π_ref`` (unbiased, can be
    negative) or ``k3 = (r − 1) − log r`` with ``r = π_ref/π`` (non-negative, lower variance)."""
    log_ratio = ref_logprobs - logprobs
    if estimator == "k1":
        return -log_ratio
    if estimator == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}: use one of {', '.join(KL_ESTIMATORS)}")


def exact_kl(logits: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
    """KL(π‖π_ref) = Σ_v π(v)·(log π(v) − log π_ref(v)) per position, from full logits: (..., V)
    to (...). Exact, so never negative (unlike a sampled k1), in float32.

    Written as Σ_v π(v)·(z(v) − z_ref(v)) − logsumexp(z) + logsumexp(z_ref), so besides the
    inputs only two vocabulary-sized temporaries exist (π and z − z_ref).
    """
    logits, ref_logits = logits.float(), ref_logits.float()
    probs = torch.softmax(logits, dim=-1)
    kl = torch.einsum("...v,...v->...", probs, logits - ref_logits)
    kl = kl - torch.logsumexp(logits, dim=-1) + torch.logsumexp(ref_logits, dim=-1)
    return kl.clamp(min=0.0)


def kl_penalized_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    *,
    kl_coef: float,
    estimator: str = "k1",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rewards ``−β·KL_t`` with the sequence score added at each sequence's last token.

    Returns ``(rewards, kl)``; both are zero where ``mask`` is 0 (padding after end of sequence).
    ``estimator`` must be one of ``REWARD_KL_ESTIMATORS`` (k1); others raise ValueError.
    """
    check_reward_kl_estimator(estimator)
    mask = mask.to(logprobs.dtype)
    kl = kl_per_token(logprobs, ref_logprobs, estimator) * mask
    rewards = -kl_coef * kl
    last = (mask.sum(1).long() - 1).clamp(min=0)
    rewards = rewards.clone()
    rewards[torch.arange(rewards.size(0), device=rewards.device), last] += scores.to(rewards.dtype)
    return rewards, kl


def gae_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    *,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over response tokens; returns ``(advantages, returns)``.

    Values past the end of a sequence are treated as 0 (the episode ended), as are rewards.
    """
    mask = mask.to(values.dtype)
    values = values * mask
    rewards = rewards * mask
    length = rewards.size(1)
    last_gae = torch.zeros_like(rewards[:, 0])
    reversed_adv = []
    for t in reversed(range(length)):
        next_values = values[:, t + 1] if t < length - 1 else torch.zeros_like(last_gae)
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        last_gae = delta + gamma * lam * last_gae
        reversed_adv.append(last_gae)
    advantages = torch.stack(reversed_adv[::-1], dim=1)
    return advantages * mask, (advantages + values) * mask


def ppo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    cliprange: float = 0.2,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate ``max(−A·r, −A·clip(r, 1±ε))``; stats: clip fraction and approx KL."""
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    loss = masked_mean(torch.max(unclipped, clipped), mask)
    with torch.no_grad():
        stats = {
            "clipfrac": masked_mean((clipped > unclipped).to(logprobs.dtype), mask),
            "approxkl": 0.5 * masked_mean(log_ratio**2, mask),
            "ratio": masked_mean(ratio, mask),
        }
    return loss, stats


def ppo_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    *,
    cliprange_value: float = 0.2,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped value loss ``½·max((V − G)², (clip(V, V_old ± ε) − G)²)``; stats: clip fraction."""
    clipped_values = old_values + torch.clamp(
        values - old_values, -cliprange_value, cliprange_value
    )
    loss_unclipped = (values - returns) ** 2
    loss_clipped = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(loss_unclipped, loss_clipped), mask)
    with torch.no_grad():
        stats = {"vf_clipfrac": masked_mean((loss_clipped > loss_unclipped).to(values.dtype), mask)}
    return loss, stats


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-position entropy of the categorical distribution given by ``logits``."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


def gather_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[token]`` per position, in float32 for stability."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
