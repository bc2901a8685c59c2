"""A tabular check of the RLHF objective: single-token "responses" to a single prompt.

The KL-regularised objective ``max_π E_π[R] − β·KL(π‖π_ref)`` has the closed-form optimum
``π*(y) ∝ π_ref(y)·exp(R(y)/β)``. Both functions below train a softmax policy over K actions with
the loss code the real trainers call (``accord.train.losses``) and return its final action
probabilities, so a test can compare them to ``optimal_policy``:

- ``ppo_bandit``: rollouts sampled from the policy, the reward plus a per-token KL penalty
  β·(log π − log π_ref), a (tabular) value baseline with GAE, whitened advantages, clipped
  surrogate and value losses over several epochs per rollout — the PPO trainer's step.
- ``ppo_sequence_bandit``: the same step on two-token sequences (y1, y2) from a tabular
  autoregressive policy: per-token KL penalty, the score at the last token, per-state values,
  GAE with γ = 1 and the trainer's λ. Its optimum is the joint
  π*(y1, y2) ∝ π_ref(y1)·π_ref(y2 | y1)·exp(R(y1, y2)/β) (``optimal_sequence_policy``).

Both take the trainer's ``kl_estimator``; one that is wrong in the reward (k3) is refused with
ValueError, exactly as the trainer refuses it.
- ``dpo_bandit``: DPO on pairs whose preference follows the Bradley–Terry model of the rewards,
  as soft labels σ(R_i − R_j) (or as hard labels drawn from it with ``labels="sampled"``).

>>> from accord.train.bandit import dpo_bandit, optimal_policy
>>> probs = dpo_bandit([0.5, 0.5], [1.0, 0.0], beta=1.0, steps=300)
>>> bool(abs(probs - optimal_policy([0.5, 0.5], [1.0, 0.0], 1.0)).max() < 0.02)
True
>>> uniform = [[0.5, 0.5], [0.5, 0.5]]
>>> optimal_sequence_policy([0.5, 0.5], uniform, [[1.0, 0.0], [0.0, 0.0]], 1.0).shape
(2, 2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .losses import (
    DEFAULT_GAE_LAMBDA,
    gae_advantages,
    kl_penalized_rewards,
    ppo_policy_loss,
    ppo_value_loss,
    soft_preference_loss,
    whiten,
)


def optimal_policy(ref_probs: Sequence[float], rewards: Sequence[float], beta: float) -> np.ndarray:
    """The closed form π*(y) ∝ π_ref(y)·exp(R(y)/β)."""
    ref = np.asarray(ref_probs, dtype=np.float64)
    logits = np.log(ref) + np.asarray(rewards, dtype=np.float64) / beta
    logits -= logits.max()
    p = np.exp(logits)
    return p / p.sum()


def optimal_sequence_policy(
    ref_first: Sequence[float], ref_second, rewards, beta: float
) -> np.ndarray:
    """The closed form π*(y1, y2) ∝ π_ref(y1)·π_ref(y2 | y1)·exp(R(y1, y2)/β), shape (V, V)."""
    joint = np.asarray(ref_first, dtype=np.float64)[:, None] * np.asarray(
        ref_second, dtype=np.float64
    )
    return optimal_policy(
        joint.ravel(), np.asarray(rewards, dtype=np.float64).ravel(), beta
    ).reshape(joint.shape)


def _check_sequence_inputs(
    ref_first, ref_second, rewards, beta
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    first, _ = _check_inputs(ref_first, [0.0] * len(ref_first), beta)
    v = first.numel()
    second = torch.tensor(np.asarray(ref_second, dtype=np.float64))
    rew = torch.tensor(np.asarray(rewards, dtype=np.float64))
    if second.shape != (v, v):
        raise ValueError(
            f"ref_second must be a {v}×{v} table of π_ref(y2 | y1), got shape {tuple(second.shape)}"
        )
    if rew.shape != (v, v):
        raise ValueError(f"rewards must be a {v}×{v} table R(y1, y2), got shape {tuple(rew.shape)}")
    if (second <= 0).any() or not torch.allclose(
        second.sum(1), torch.ones(v, dtype=torch.float64), atol=1e-6
    ):
        raise ValueError("each row of ref_second must be positive and sum to 1")
    return first, second, rew


def _check_inputs(
    ref_probs: Sequence[float], rewards: Sequence[float], beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    ref = torch.tensor(list(ref_probs), dtype=torch.float64)
    rew = torch.tensor(list(rewards), dtype=torch.float64)
    if ref.ndim != 1 or ref.numel() < 2:
        raise ValueError("ref_probs must list at least 2 action probabilities")
    if rew.shape != ref.shape:
        raise ValueError(f"rewards has {rew.numel()} entries but ref_probs has {ref.numel()}")
    if (ref <= 0).any() or not math.isclose(float(ref.sum()), 1.0, abs_tol=1e-6):
        raise ValueError("ref_probs must be positive and sum to 1")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    return ref, rew


def ppo_bandit(
    ref_probs: Sequence[float],
    rewards: Sequence[float],
    beta: float,
    *,
    steps: int = 600,
    batch_size: int = 256,
    ppo_epochs: int = 4,
    lr: float = 0.5,
    cliprange: float = 0.2,
    cliprange_value: float = 10.0,
    vf_coef: float = 0.5,
    seed: int = 0,
    kl_estimator: str = "k1",
) -> np.ndarray:
    """Train a tabular policy with the PPO trainer's losses; return its final probabilities.

    ``kl_estimator`` goes to ``kl_penalized_rewards`` as in the trainer, which refuses the ones
    that are wrong in the reward (ValueError).

    The learning rate decays as ``lr / (1 + 10·t/steps)`` (a Robbins–Monro schedule) and the
    result is the average of the policy logits over the last half of training, which removes
    the sampling noise of the final iterates without changing the fixed point.
    """
    ref, rew = _check_inputs(ref_probs, rewards, beta)
    generator = torch.Generator().manual_seed(seed)
    logits = torch.log(ref).clone().requires_grad_(True)
    value = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([logits, value], lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: 1.0 / (1.0 + 10.0 * t / steps)
    )
    log_ref = torch.log(ref)
    averaged, n_averaged = torch.zeros_like(ref), 0
    mask = torch.ones(batch_size, 1, dtype=torch.float64)
    for step in range(steps):
        with torch.no_grad():
            actions = torch.multinomial(
                torch.softmax(logits, 0), batch_size, True, generator=generator
            )
            old_logprobs = torch.log_softmax(logits, 0)[actions].unsqueeze(1)
            ref_logprobs = log_ref[actions].unsqueeze(1)
            token_rewards, _ = kl_penalized_rewards(
                rew[actions], old_logprobs, ref_logprobs, mask, kl_coef=beta, estimator=kl_estimator
            )
            old_values = value.expand(batch_size).unsqueeze(1).clone()
            advantages, returns = gae_advantages(
                token_rewards, old_values, mask, gamma=1.0, lam=1.0
            )
            advantages = whiten(advantages, mask)
        for _ in range(ppo_epochs):
            new_logprobs = torch.log_softmax(logits, 0)[actions].unsqueeze(1)
            pg_loss, _ = ppo_policy_loss(
                new_logprobs, old_logprobs, advantages, mask, cliprange=cliprange
            )
            new_values = value.expand(batch_size).unsqueeze(1)
            vf_loss, _ = ppo_value_loss(
                new_values, old_values, returns, mask, cliprange_value=cliprange_value
            )
            optimizer.zero_grad()
            (pg_loss + vf_coef * vf_loss).backward()
            optimizer.step()
        scheduler.step()
        if step >= steps // 2:
            with torch.no_grad():
                averaged += torch.log_softmax(logits, 0)
                n_averaged += 1
    return torch.softmax(averaged / max(n_averaged, 1), 0).detach().numpy()


def ppo_sequence_bandit(
    ref_first: Sequence[float],
    ref_second,
    rewards,
    beta: float,
    *,
    seed: int = 0,
    kl_estimator: str = "k1",
    steps: int = 600,
    batch_size: int = 256,
    ppo_epochs: int = 4,
    lr: float = 0.5,
    lam: float = DEFAULT_GAE_LAMBDA,
    cliprange: float = 0.2,
    cliprange_value: float = 10.0,
    vf_coef: float = 0.5,
) -> np.ndarray:
    """PPO on two-token sequences; return the joint probabilities P(y1, y2), shape (V, V).

    ``ref_first[y1]`` = π_ref(y1), ``ref_second[y1][y2]`` = π_ref(y2 | y1), ``rewards[y1][y2]``
    = R(y1, y2), scored at the last token. The policy is two softmax tables (first token, and
    second token per first token), the value one number per state (before y1, and per y1).
    Each step: sample ``batch_size`` sequences, token rewards from ``kl_penalized_rewards`` with
    the given ``kl_estimator``, GAE (γ = 1, ``lam``: the trainer's λ by default), whitened
    advantages, ``ppo_epochs`` passes of the clipped surrogate and value losses. Same learning
    rate decay and averaging of the last half as ``ppo_bandit``.
    """
    first, second, rew = _check_sequence_inputs(ref_first, ref_second, rewards, beta)
    v = first.numel()
    generator = torch.Generator().manual_seed(seed)
    log_first, log_second = torch.log(first), torch.log(second)
    logits_first = log_first.clone().requires_grad_(True)
    logits_second = log_second.clone().requires_grad_(True)
    value_start = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    value_after = torch.zeros(v, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([logits_first, logits_second, value_start, value_after], lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: 1.0 / (1.0 + 10.0 * t / steps)
    )
    mask = torch.ones(batch_size, 2, dtype=torch.float64)
    sum_first, sum_second, n_averaged = torch.zeros_like(first), torch.zeros_like(second), 0

    def token_logprobs(y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
        return torch.stack(
            [torch.log_softmax(logits_first, 0)[y1], torch.log_softmax(logits_second, 1)[y1, y2]], 1
        )

    def values(y1: torch.Tensor) -> torch.Tensor:
        return torch.stack([value_start.expand(batch_size), value_after[y1]], 1)

    for step in range(steps):
        with torch.no_grad():
            y1 = torch.multinomial(
                torch.softmax(logits_first, 0), batch_size, True, generator=generator
            )
            y2 = torch.multinomial(
                torch.softmax(logits_second, 1)[y1], 1, generator=generator
            ).squeeze(1)
            old_logprobs = token_logprobs(y1, y2)
            ref_logprobs = torch.stack([log_first[y1], log_second[y1, y2]], 1)
            token_rewards, _ = kl_penalized_rewards(
                rew[y1, y2], old_logprobs, ref_logprobs, mask, kl_coef=beta, estimator=kl_estimator
            )
            old_values = values(y1).clone()
            advantages, returns = gae_advantages(
                token_rewards, old_values, mask, gamma=1.0, lam=lam
            )
            advantages = whiten(advantages, mask)
        for _ in range(ppo_epochs):
            pg_loss, _ = ppo_policy_loss(
                token_logprobs(y1, y2), old_logprobs, advantages, mask, cliprange=cliprange
            )
            vf_loss, _ = ppo_value_loss(
                values(y1), old_values, returns, mask, cliprange_value=cliprange_value
            )
            optimizer.zero_grad()
            (pg_loss + vf_coef * vf_loss).backward()
            optimizer.step()
        scheduler.step()
        if step >= steps // 2:
            with torch.no_grad():
                sum_first += torch.log_softmax(logits_first, 0)
                sum_second += torch.log_softmax(logits_second, 1)
                n_averaged += 1
    p_first = torch.softmax(sum_first / max(n_averaged, 1), 0)
    p_second = torch.softmax(sum_second / max(n_averaged, 1), 1)
    return (p_first[:, None] * p_second).detach().numpy()


def dpo_bandit(
    ref_probs: Sequence[float],
    rewards: Sequence[float],
    beta: float,
    *,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 0.1,
    seed: int = 0,
    loss_type: str = "sigmoid",
    labels: str = "soft",
    **loss_kwargs,
) -> np.ndarray:
    """Train a tabular policy with the DPO trainer's preference loss; return its probabilities.

    Each step samples ``batch_size`` ordered pairs (i, j), i ≠ j, uniformly. ``labels="soft"``
    uses p = σ(R_i − R_j) as the soft label; ``labels="sampled"`` draws a hard label from
    Bernoulli(p) (chosen/rejected swapped when it says j ≻ i), which has the same expectation.
    """
    if labels not in ("soft", "sampled"):
        raise ValueError(f"labels must be 'soft' or 'sampled', got {labels!r}")
    ref, rew = _check_inputs(ref_probs, rewards, beta)
    k = ref.numel()
    generator = torch.Generator().manual_seed(seed)
    pairs = torch.tensor([(i, j) for i in range(k) for j in range(k) if i != j])
    logits = torch.log(ref).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, steps) / steps)) + 1e-3
    )
    log_ref = torch.log(ref)
    averaged, n_averaged = torch.zeros_like(ref), 0
    for step in range(steps):
        batch = pairs[torch.randint(len(pairs), (batch_size,), generator=generator)]
        first, second = batch[:, 0], batch[:, 1]
        prob = torch.sigmoid(rew[first] - rew[second])
        if labels == "sampled":
            first_wins = torch.rand(batch_size, generator=generator, dtype=torch.float64) < prob
            first, second = (
                torch.where(first_wins, first, second),
                torch.where(first_wins, second, first),
            )
            prob = torch.ones_like(prob)
        logratios = torch.log_softmax(logits, 0) - log_ref
        loss = soft_preference_loss(
            logratios[first], logratios[second], prob, beta=beta, loss_type=loss_type, **loss_kwargs
        ).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if labels == "sampled" and step >= steps // 2:
            with torch.no_grad():
                averaged += torch.log_softmax(logits, 0)
                n_averaged += 1
    if n_averaged:
        return torch.softmax(averaged / n_averaged, 0).detach().numpy()
    return torch.softmax(logits, 0).detach().numpy()
