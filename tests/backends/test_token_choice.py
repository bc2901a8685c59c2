"""The batched token choice of the local decoding loop: greedy rows, sampled rows following
softmax(logits / T), the nucleus, and each row independent of its neighbours."""

from __future__ import annotations

import random

import pytest
import torch

from accord.backends.decoding import choose_tokens, row_random


def _counts(logits, *, temperature, top_p, draws, seed=0):
    rng = random.Random(seed)
    batch = torch.stack([logits] * draws)
    tokens = choose_tokens(
        batch,
        temperatures=[temperature] * draws,
        top_ps=[top_p] * draws,
        uniforms=[rng.random() for _ in range(draws)],
    )
    return torch.bincount(torch.tensor(tokens), minlength=logits.shape[0]).double()


def _chi_square_p(observed, expected) -> float:
    from scipy.stats import chisquare

    mask = expected > 0
    assert observed[~mask].sum() == 0, "a token outside the support was drawn"
    return float(chisquare(observed[mask].numpy(), expected[mask].numpy()).pvalue)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampled_tokens_follow_softmax_of_logits_over_temperature(temperature):
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0, 1.5, 0.2])
    draws = 20_000
    expected = torch.softmax(logits.double() / temperature, dim=-1) * draws
    observed = _counts(logits, temperature=temperature, top_p=1.0, draws=draws)
    assert _chi_square_p(observed, expected) > 1e-3


def test_nucleus_keeps_the_smallest_prefix_reaching_top_p_renormalised():
    # Sorted probabilities 0.5, 0.25, 0.15, 0.1: top_p 0.7 keeps the first two (0.5 < 0.7,
    # 0.75 >= 0.7), then renormalises them to 2/3 and 1/3.
    probs = torch.tensor([0.15, 0.5, 0.1, 0.25])
    draws = 12_000
    observed = _counts(probs.log(), temperature=1.0, top_p=0.7, draws=draws)
    expected = torch.tensor([0.0, 2 / 3, 0.0, 1 / 3], dtype=torch.float64) * draws
    assert _chi_square_p(observed, expected) > 1e-3


def test_a_vanishing_nucleus_is_the_argmax_and_greedy_rows_take_the_argmax():
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(3))
    top = logits.argmax(-1).tolist()
    nucleus = choose_tokens(logits, temperatures=[1.0] * 6, top_ps=[1e-9] * 6, uniforms=[0.9] * 6)
    greedy = choose_tokens(logits, temperatures=[0.0] * 6, top_ps=[0.9] * 6, uniforms=[0.9] * 6)
    assert nucleus == top == greedy


def test_a_row_depends_on_its_own_logits_and_draw_only():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 300, generator=gen)
    temperatures, top_ps = [1.0, 0.0, 0.7, 1.3, 1.0], [1.0, 1.0, 0.9, 0.5, 0.95]
    uniforms = [0.1, 0.0, 0.42, 0.77, 0.999]
    together = choose_tokens(logits, temperatures=temperatures, top_ps=top_ps, uniforms=uniforms)
    alone = [
        choose_tokens(
            logits[i : i + 1],
            temperatures=[temperatures[i]],
            top_ps=[top_ps[i]],
            uniforms=[uniforms[i]],
        )[0]
        for i in range(5)
    ]
    assert together == alone


def test_draws_at_the_ends_of_the_unit_interval_stay_in_the_support():
    logits = torch.tensor([[0.0, -float("inf"), 1.0, -float("inf")]] * 2)
    for top_p in (1.0, 0.99):
        first, last = choose_tokens(
            logits, temperatures=[1.0, 1.0], top_ps=[top_p] * 2, uniforms=[0.0, 1.0 - 2**-53]
        )
        assert first in (0, 2) and last in (0, 2)


def test_a_row_random_is_its_seed_and_negative_seeds_are_seeds_of_their_own():
    assert row_random(5).random() == row_random(5).random()
    assert row_random(None).random() != row_random(None).random()
    assert row_random(-3).random() != row_random(3).random()
    assert row_random(-1).random() == row_random(2**64 - 1).random()


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), "all -inf"], ids=["nan", "inf", "all-minus-inf"]
)
@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_a_row_without_a_finite_distribution_gets_minus_one_and_leaves_the_others(bad, top_p):
    logits = torch.randn(3, 20, generator=torch.Generator().manual_seed(1))
    if bad == "all -inf":
        logits[1] = -float("inf")
    else:
        logits[1, 4] = bad
    tokens = choose_tokens(
        logits, temperatures=[1.0, 1.0, 0.0], top_ps=[top_p] * 3, uniforms=[0.3, 0.3, 0.0]
    )
    assert tokens[1] == -1
    assert tokens[0] >= 0 and tokens[2] == int(logits[2].argmax())
    tiny = choose_tokens(logits[:1], temperatures=[1e-39], top_ps=[top_p], uniforms=[0.5])
    assert tiny in ([-1], [int(logits[0].argmax())])  # never a token picked from garbage


def test_a_nan_top_p_samples_the_whole_distribution_like_top_p_one():
    logits = torch.randn(4, 30, generator=torch.Generator().manual_seed(2))
    u = [0.1, 0.5, 0.8, 0.95]
    nan = choose_tokens(logits, temperatures=[1.0] * 4, top_ps=[float("nan")] * 4, uniforms=u)
    assert nan == choose_tokens(logits, temperatures=[1.0] * 4, top_ps=[1.0] * 4, uniforms=u)
