"""The closed form check: PPO+KL and DPO on a tabular bandit converge to π* ∝ π_ref·exp(R/β)."""

import numpy as np
import pytest
from accord.train.bandit import dpo_bandit, optimal_policy, ppo_bandit

CASES = [
    pytest.param([0.5, 0.5], [1.0, 0.0], 0.5, id="2-actions-beta0.5"),
    pytest.param([0.7, 0.3], [0.0, 1.0], 2.0, id="2-actions-beta2"),
    pytest.param([0.2, 0.3, 0.5], [1.0, 0.5, -0.5], 1.0, id="3-actions-beta1"),
    pytest.param([0.6, 0.3, 0.1], [0.0, 0.3, 1.0], 0.25, id="3-actions-beta0.25"),
    pytest.param([0.1, 0.2, 0.3, 0.4], [2.0, 0.0, 1.0, -1.0], 2.0, id="4-actions-beta2"),
]


@pytest.mark.parametrize("ref, rewards, beta", CASES)
def test_dpo_bandit_reaches_closed_form(ref, rewards, beta):
    probs = dpo_bandit(ref, rewards, beta, seed=0)
    assert np.abs(probs - optimal_policy(ref, rewards, beta)).max() < 0.02


@pytest.mark.slow
@pytest.mark.parametrize("ref, rewards, beta", CASES[::2])
def test_dpo_bandit_with_sampled_hard_labels(ref, rewards, beta):
    probs = dpo_bandit(ref, rewards, beta, labels="sampled", steps=2000, seed=1)
    assert np.abs(probs - optimal_policy(ref, rewards, beta)).max() < 0.02


@pytest.mark.slow
@pytest.mark.parametrize("ref, rewards, beta", CASES)
def test_ppo_bandit_reaches_closed_form(ref, rewards, beta):
    probs = ppo_bandit(ref, rewards, beta, seed=0)
    assert np.abs(probs - optimal_policy(ref, rewards, beta)).max() < 0.02


def test_ppo_bandit_short_run_moves_toward_optimum():
    ref, rewards, beta = [0.5, 0.5], [1.0, 0.0], 0.5
    probs = ppo_bandit(ref, rewards, beta, steps=150, batch_size=128)
    assert np.abs(probs - optimal_policy(ref, rewards, beta)).max() < 0.05


def test_ipo_bandit_reaches_its_own_closed_form():
    # IPO's soft-label optimum on two actions: log-ratio gap (2p − 1)/(2β), not R/β.
    ref, rewards, beta = [0.5, 0.5], [1.0, 0.0], 0.5
    p = 1 / (1 + np.exp(-(rewards[0] - rewards[1])))
    gap = (2 * p - 1) / (2 * beta)
    expected = np.array([np.exp(gap), 1.0]) / (np.exp(gap) + 1.0)
    probs = dpo_bandit(ref, rewards, beta, loss_type="ipo")
    assert np.abs(probs - expected).max() < 0.02


def test_more_beta_stays_closer_to_reference():
    ref, rewards = [0.5, 0.5], [1.0, 0.0]
    low, high = dpo_bandit(ref, rewards, 0.5), dpo_bandit(ref, rewards, 4.0)
    assert abs(high[0] - 0.5) < abs(low[0] - 0.5)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        dpo_bandit([0.5, 0.6], [1.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="rewards has 3"):
        ppo_bandit([0.5, 0.5], [1.0, 0.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="beta"):
        dpo_bandit([0.5, 0.5], [1.0, 0.0], 0.0)
