"""Bradley–Terry maximum likelihood against known solutions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from accord.rlaif.bradley_terry import fit_bradley_terry, log_likelihood, ranks_from_strengths


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_recovers_the_strengths_that_generated_consistent_soft_labels():
    theta = np.array([1.3, 0.4, 0.0, -0.2, -1.5])
    theta = theta - theta.mean()
    comps = [(i, j, _sig(theta[i] - theta[j])) for i, j in itertools.combinations(range(5), 2)]
    np.testing.assert_allclose(fit_bradley_terry(5, comps), theta, atol=1e-8)


def test_three_items_closed_form_from_win_counts():
    # a beat b 2 of 3 times, b beat c 2 of 3 times, a beat c 2 of 3 times (hard wins):
    # the MLE solves the score equations; check them and compare with the grid maximum.
    comps = [(0, 1, 1.0)] * 2 + [(1, 0, 1.0)] + [(1, 2, 1.0)] * 2 + [(2, 1, 1.0)]
    comps += [(0, 2, 1.0)] * 2 + [(2, 0, 1.0)]
    theta = fit_bradley_terry(3, comps)
    # score equations: observed wins = expected wins for each item
    wins = [4, 3, 2]
    for item in range(3):
        expected = sum(
            _sig(theta[i] - theta[j]) if i == item else _sig(theta[j] - theta[i])
            for i, j, _ in comps
            if item in (i, j)
        )
        assert expected == pytest.approx(wins[item], abs=1e-8)
    # by symmetry θ_a − θ_b = θ_b − θ_c
    assert theta[0] - theta[1] == pytest.approx(theta[1] - theta[2], abs=1e-8)
    # nothing on a grid around the solution is more likely
    i, j = np.array([c[0] for c in comps]), np.array([c[1] for c in comps])
    p, w = np.ones(len(comps)), np.ones(len(comps))
    best = log_likelihood(theta, i, j, p, w)
    for da, dc in itertools.product(np.linspace(-0.3, 0.3, 7), repeat=2):
        trial = theta + np.array([da, 0.0, dc])
        assert log_likelihood(trial, i, j, p, w) <= best + 1e-12


def test_matches_a_generic_optimiser_on_noisy_soft_labels():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    k = 6
    comps = [
        (i, j, float(rng.uniform(0.05, 0.95)), float(rng.integers(1, 4)))
        for i, j in itertools.combinations(range(k), 2)
    ]
    i, j = np.array([c[0] for c in comps]), np.array([c[1] for c in comps])
    p, w = np.array([c[2] for c in comps]), np.array([c[3] for c in comps])
    ours = fit_bradley_terry(k, comps)
    ref = minimize(lambda t: -log_likelihood(t, i, j, p, w), np.zeros(k), method="BFGS").x
    np.testing.assert_allclose(ours, ref - ref.mean(), atol=1e-4)


def test_data_without_a_finite_maximum_is_refused_unless_regularised():
    with pytest.raises(ValueError, match="do not connect"):
        fit_bradley_terry(4, [(0, 1, 0.6), (2, 3, 0.6)])
    with pytest.raises(ValueError, match="won or lost every comparison"):
        fit_bradley_terry(3, [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 0.5)])
    theta = fit_bradley_terry(3, [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 0.5)], l2=0.1)
    assert ranks_from_strengths(theta) == [1, 2, 2]
    with pytest.raises(ValueError, match="within"):
        fit_bradley_terry(2, [(0, 1, 1.5)])
    with pytest.raises(ValueError, match="two different items"):
        fit_bradley_terry(2, [(0, 0, 0.5)])


def test_ranks_from_strengths_are_dense_with_ties():
    assert ranks_from_strengths([0.5, 2.0, 0.5, -1.0]) == [2, 1, 2, 3]
