"""The closed form check: PPO+KL and DPO on a tabular bandit converge to π* ∝ π_ref·exp(R/β),
for single tokens and for two-token sequences (per-token KL, score at the last token, GAE)."""

import numpy as np
import pytest

from accord.train import losses
from accord.train.bandit import (
    dpo_bandit,
    optimal_policy,
    optimal_sequence_policy,
    ppo_bandit,
    ppo_sequence_bandit,
)
from accord.train.losses import KL_ESTIMATORS, REWARD_KL_ESTIMATORS

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


SEQUENCE_CASES = [
    pytest.param(
        [0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [0.0, 0.0]], 0.5, id="2x2-beta0.5"
    ),
    pytest.param(
        [0.7, 0.3], [[0.2, 0.8], [0.6, 0.4]], [[0.0, 1.0], [1.0, -1.0]], 1.0, id="2x2-beta1"
    ),
    pytest.param(
        [0.2, 0.3, 0.5],
        [[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3]],
        [[1.0, 0.0, 0.5], [0.0, 2.0, -1.0], [0.5, 0.0, 1.0]],
        1.0,
        id="3x3-beta1",
    ),
]


@pytest.mark.parametrize("estimator", REWARD_KL_ESTIMATORS)
@pytest.mark.parametrize("ref_first, ref_second, rewards, beta", SEQUENCE_CASES)
def test_ppo_sequence_bandit_reaches_joint_closed_form(
    ref_first, ref_second, rewards, beta, estimator
):
    joint = ppo_sequence_bandit(
        ref_first, ref_second, rewards, beta, seed=0, kl_estimator=estimator
    )
    expected = optimal_sequence_policy(ref_first, ref_second, rewards, beta)
    assert joint.shape == expected.shape and joint.sum() == pytest.approx(1.0)
    assert np.abs(joint - expected).max() < 0.02


def test_sequence_optimum_is_the_per_token_kl_optimum():
    # π*(y1, y2) ∝ π_ref(y1)·π_ref(y2|y1)·exp(R/β) factorises as π*(y2|y1) ∝ π_ref(y2|y1)·exp(R/β)
    ref_first, ref_second, rewards, beta = (
        [0.7, 0.3],
        [[0.2, 0.8], [0.6, 0.4]],
        [[0.0, 1.0], [1.0, -1.0]],
        1.0,
    )
    joint = optimal_sequence_policy(ref_first, ref_second, rewards, beta)
    for y1 in range(2):
        second = joint[y1] / joint[y1].sum()
        assert second == pytest.approx(optimal_policy(ref_second[y1], rewards[y1], beta))


@pytest.mark.parametrize("estimator", REWARD_KL_ESTIMATORS)
def test_ppo_bandit_converges_with_every_reward_estimator(estimator):
    ref, rewards, beta = [0.2, 0.3, 0.5], [1.0, 0.5, -0.5], 1.0
    probs = ppo_bandit(ref, rewards, beta, seed=0, kl_estimator=estimator)
    assert np.abs(probs - optimal_policy(ref, rewards, beta)).max() < 0.02


@pytest.mark.parametrize(
    "estimator", [e for e in KL_ESTIMATORS if e not in REWARD_KL_ESTIMATORS] + ["k2", "exact"]
)
def test_estimators_wrong_in_the_reward_are_refused(estimator):
    with pytest.raises(ValueError, match=f"{estimator}"):
        ppo_bandit([0.5, 0.5], [1.0, 0.0], 0.5, kl_estimator=estimator)
    with pytest.raises(ValueError, match=f"{estimator}"):
        ppo_sequence_bandit(
            [0.5, 0.5],
            [[0.5, 0.5], [0.5, 0.5]],
            [[1.0, 0.0], [0.0, 0.0]],
            0.5,
            kl_estimator=estimator,
        )


def test_k3_in_the_reward_runs_to_the_corner(monkeypatch):
    """Why k3 is refused: with the guard lifted, k3 as a per-action penalty (no gradient of its
    own) sends the 2-arm bandit to [1, 0], while π* = [0.88, 0.12]."""
    ref, rewards, beta = [0.5, 0.5], [1.0, 0.0], 0.5
    monkeypatch.setattr(losses, "check_reward_kl_estimator", lambda estimator: estimator)
    probs = ppo_bandit(ref, rewards, beta, seed=0, kl_estimator="k3")
    optimum = optimal_policy(ref, rewards, beta)
    assert optimum[0] == pytest.approx(0.881, abs=1e-3)
    assert probs[0] > 0.99
    assert np.abs(probs - optimum).max() > 0.1


def test_bad_sequence_inputs_are_rejected():
    with pytest.raises(ValueError, match="2×2 table of π_ref"):
        ppo_sequence_bandit([0.5, 0.5], [0.5, 0.5], [[1.0, 0.0], [0.0, 0.0]], 1.0)
    with pytest.raises(ValueError, match="row of ref_second"):
        ppo_sequence_bandit([0.5, 0.5], [[0.5, 0.6], [0.5, 0.5]], [[1.0, 0.0], [0.0, 0.0]], 1.0)
    with pytest.raises(ValueError, match="rewards must be a 2×2"):
        ppo_sequence_bandit([0.5, 0.5], [[0.5, 0.5], [0.5, 0.5]], [1.0, 0.0], 1.0)
