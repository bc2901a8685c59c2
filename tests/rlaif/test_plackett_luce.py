"""Plackett–Luce strengths from soft listwise readings: the maximum of the likelihood (checked
against scipy's optimiser on the same objective, written out here), Bradley–Terry's answer for
two items, and the refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from accord.rlaif.bradley_terry import fit_bradley_terry
from accord.rlaif.plackett_luce import fit_plackett_luce


def negative_log_likelihood(theta, stages):
    total = 0.0
    for items, q in stages:
        x = theta[list(items)]
        total += float(np.dot(q, x - np.log(np.sum(np.exp(x)))))
    return -total


def test_the_maximum_equals_scipys_on_a_listwise_reading():
    # two presentations of 4 items, each read position by position (3 stages)
    stages = [
        ([0, 1, 2, 3], [0.4, 0.3, 0.2, 0.1]),
        ([1, 2, 3], [0.5, 0.3, 0.2]),
        ([2, 3], [0.7, 0.3]),
        ([3, 2, 1, 0], [0.05, 0.15, 0.3, 0.5]),
        ([2, 1, 3], [0.2, 0.6, 0.2]),
        ([2, 3], [0.55, 0.45]),
    ]
    theta = fit_plackett_luce(4, stages)
    assert theta.mean() == pytest.approx(0.0, abs=1e-12)
    best = minimize(
        negative_log_likelihood, np.zeros(4), args=(stages,), method="BFGS", tol=1e-12
    ).x
    np.testing.assert_allclose(theta, best - best.mean(), atol=1e-5)
    assert negative_log_likelihood(theta, stages) <= negative_log_likelihood(best, stages) + 1e-9


def test_first_stage_alone_gives_the_log_probabilities():
    q = np.array([0.5, 0.25, 0.125, 0.125])
    theta = fit_plackett_luce(4, [([0, 1, 2, 3], q.tolist())])
    np.testing.assert_allclose(theta, np.log(q) - np.log(q).mean(), atol=1e-8)


def test_two_items_agree_with_bradley_terry():
    theta = fit_plackett_luce(2, [([0, 1], [0.8, 0.2]), ([1, 0], [0.3, 0.7])])
    bt = fit_bradley_terry(2, [(0, 1, 0.8), (0, 1, 0.7)])
    np.testing.assert_allclose(theta, bt, atol=1e-7)
    # σ(θ_0 − θ_1) is P(0 first) when there is one stage
    one = fit_plackett_luce(2, [([0, 1], [0.8, 0.2])])
    assert 1 / (1 + math.exp(one[1] - one[0])) == pytest.approx(0.8)


def test_l2_shrinks_and_single_item_stages_are_ignored():
    stages = [([0, 1, 2], [0.6, 0.3, 0.1]), ([2], [1.0])]
    plain = fit_plackett_luce(3, stages)
    shrunk = fit_plackett_luce(3, stages, l2=1.0)
    assert np.abs(shrunk).sum() < np.abs(plain).sum()
    np.testing.assert_allclose(plain, fit_plackett_luce(3, stages[:1]), atol=1e-10)


def test_refusals():
    with pytest.raises(ValueError, match="at least 2 items"):
        fit_plackett_luce(1, [([0], [1.0])])
    with pytest.raises(ValueError, match="at least one stage"):
        fit_plackett_luce(3, [([0], [1.0])])
    with pytest.raises(ValueError, match="do not connect"):
        fit_plackett_luce(4, [([0, 1], [0.5, 0.5]), ([2, 3], [0.5, 0.5])])
    with pytest.raises(ValueError, match="different and within"):
        fit_plackett_luce(3, [([0, 3], [0.5, 0.5])])
    with pytest.raises(ValueError, match="one probability per item"):
        fit_plackett_luce(3, [([0, 1], [1.0])])
    with pytest.raises(ValueError, match="l2"):
        fit_plackett_luce(3, [([0, 1, 2], [0.2, 0.3, 0.5])], l2=-1)
    # disconnected stages are fine with a prior
    assert np.isfinite(
        fit_plackett_luce(4, [([0, 1], [0.5, 0.5]), ([2, 3], [0.9, 0.1])], l2=0.1)
    ).all()
