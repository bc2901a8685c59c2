"""accord's loss code: preference losses (soft labels), PPO pieces. Parity with trl's DPOTrainer
on a real model lives in test_dpo.py."""

import math

import pytest
import torch
import torch.nn.functional as F

from accord.train.losses import (
    PAIRWISE_LOSS_TYPES,
    exact_kl,
    gae_advantages,
    kl_penalized_rewards,
    kl_per_token,
    ppo_policy_loss,
    ppo_value_loss,
    preference_loss,
    soft_preference_loss,
    whiten,
)

C = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
R = torch.tensor([-0.4, 0.5, 1.0], dtype=torch.float64)


def kwargs_for(loss_type):
    return {"label_smoothing": 0.1} if loss_type in ("exo_pair", "robust") else {}


@pytest.mark.parametrize("loss_type", PAIRWISE_LOSS_TYPES)
def test_soft_loss_at_one_is_the_hard_loss(loss_type):
    hard = preference_loss(C, R, beta=0.2, loss_type=loss_type, **kwargs_for(loss_type))
    soft = soft_preference_loss(
        C, R, torch.ones(3), beta=0.2, loss_type=loss_type, **kwargs_for(loss_type)
    )
    torch.testing.assert_close(soft, hard)
    swapped = soft_preference_loss(
        R, C, torch.zeros(3), beta=0.2, loss_type=loss_type, **kwargs_for(loss_type)
    )
    torch.testing.assert_close(swapped, hard)


def test_sigmoid_definition_and_soft_minimiser():
    torch.testing.assert_close(preference_loss(C, R, beta=0.5), -F.logsigmoid(0.5 * (C - R)))
    # the soft sigmoid loss is minimised where β·Δ = logit(p)
    delta = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([delta])
    p = torch.tensor([0.8], dtype=torch.float64)

    def closure():
        opt.zero_grad()
        loss = soft_preference_loss(delta, torch.zeros(1, dtype=torch.float64), p, beta=0.5).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert 0.5 * delta.item() == pytest.approx(math.log(0.8 / 0.2), abs=1e-4)


def test_ipo_normalises_by_length():
    loss = preference_loss(
        C,
        R,
        beta=0.5,
        loss_type="ipo",
        chosen_lengths=torch.tensor([2.0, 2.0, 2.0]),
        rejected_lengths=torch.tensor([1.0, 1.0, 1.0]),
    )
    torch.testing.assert_close(loss, (C / 2 - R - 1.0) ** 2)


def test_unknown_loss_type_names_the_choices():
    with pytest.raises(ValueError, match="sigmoid"):
        preference_loss(C, R, beta=0.1, loss_type="nope")


def test_gae_matches_naive_sum():
    torch.manual_seed(0)
    rewards, values = torch.randn(2, 5), torch.randn(2, 5)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.float32)
    gamma, lam = 0.9, 0.8
    adv, ret = gae_advantages(rewards, values, mask, gamma=gamma, lam=lam)
    for b in range(2):
        n = int(mask[b].sum())
        v = torch.cat([values[b, :n], torch.zeros(1)])
        deltas = [rewards[b, t] + gamma * v[t + 1] - v[t] for t in range(n)]
        for t in range(n):
            expected = sum((gamma * lam) ** k * deltas[t + k] for k in range(n - t))
            assert adv[b, t].item() == pytest.approx(expected.item(), abs=1e-5)
            assert ret[b, t].item() == pytest.approx(
                expected.item() + values[b, t].item(), abs=1e-5
            )
        assert adv[b, n:].abs().sum() == 0


def test_kl_penalised_rewards_put_score_on_last_token():
    logp = torch.tensor([[-1.0, -2.0, -1.0], [-0.5, -0.5, 0.0]])
    ref = torch.tensor([[-1.5, -1.0, -1.0], [-0.5, -1.5, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    rewards, kl = kl_penalized_rewards(torch.tensor([2.0, 3.0]), logp, ref, mask, kl_coef=0.1)
    torch.testing.assert_close(kl, torch.tensor([[0.5, -1.0, 0.0], [0.0, 1.0, 0.0]]))
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 0.1, 2.0], [0.0, -0.1 + 3.0, 0.0]]))
    assert (kl_per_token(logp, ref, "k3") >= 0).all()


def test_ppo_policy_loss_clips():
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[1.5, 0.5]]))
    adv = torch.tensor([[1.0, -1.0]])
    mask = torch.ones(1, 2)
    loss, stats = ppo_policy_loss(new, old, adv, mask, cliprange=0.2)
    # token 1: ratio 1.5, A>0 -> clipped to 1.2; token 2: ratio 0.5, A<0 -> clipped to 0.8
    assert loss.item() == pytest.approx((-1.2 + 0.8) / 2)
    assert stats["clipfrac"].item() == pytest.approx(1.0)


def test_ppo_value_loss_clips_and_whiten():
    values, old = torch.tensor([[2.0]]), torch.tensor([[0.0]])
    loss, stats = ppo_value_loss(
        values, old, torch.tensor([[0.0]]), torch.ones(1, 1), cliprange_value=0.5
    )
    assert loss.item() == pytest.approx(0.5 * 4.0)
    assert stats["vf_clipfrac"].item() == 0.0
    w = whiten(torch.tensor([1.0, 2.0, 3.0, 100.0]), torch.tensor([1, 1, 1, 0]))
    assert w[:3].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert w[:3].std().item() == pytest.approx(1.0, abs=1e-3)


def test_exact_kl_matches_torch_categorical_kl_and_is_never_negative():
    generator = torch.Generator().manual_seed(0)
    logits, ref_logits = (
        torch.randn(3, 5, 11, generator=generator),
        torch.randn(3, 5, 11, generator=generator),
    )
    ours = exact_kl(logits, ref_logits)
    theirs = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=logits),
        torch.distributions.Categorical(logits=ref_logits),
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    assert (exact_kl(logits, logits) == 0).all()
    # the sampled k1 of the same distributions can be negative; the exact KL cannot
    tokens = logits.argmin(
        -1
    )  # the policy's least likely token: log π − log π_ref < 0 there, mostly
    k1 = kl_per_token(
        torch.log_softmax(logits, -1).gather(-1, tokens[..., None])[..., 0],
        torch.log_softmax(ref_logits, -1).gather(-1, tokens[..., None])[..., 0],
        "k1",
    )
    assert (k1 < 0).any() and (ours >= 0).all()


def test_reward_refuses_k3_with_a_clear_error():
    logp, ref, mask = torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2)
    with pytest.raises(ValueError, match="cannot be used in the reward.*k1"):
        kl_penalized_rewards(torch.zeros(1), logp, ref, mask, kl_coef=0.1, estimator="k3")
    with pytest.raises(ValueError, match="unknown KL estimator 'k9'"):
        kl_penalized_rewards(torch.zeros(1), logp, ref, mask, kl_coef=0.1, estimator="k9")


def test_hinge_refuses_soft_labels():
    c, r = torch.tensor([0.5, 0.1]), torch.tensor([-0.5, 0.2])
    with pytest.raises(ValueError, match="hinge.*ignores soft labels"):
        soft_preference_loss(c, r, torch.tensor([0.7, 1.0]), beta=0.1, loss_type="hinge")
    # hard labels (0 or 1) are the plain hinge loss, either way round
    hard = soft_preference_loss(c, r, torch.tensor([1.0, 0.0]), beta=0.1, loss_type="hinge")
    torch.testing.assert_close(
        hard,
        torch.stack(
            [
                preference_loss(c, r, beta=0.1, loss_type="hinge")[0],
                preference_loss(r, c, beta=0.1, loss_type="hinge")[1],
            ]
        ),
    )
