"""The escalation threshold keeps its promise on simulated judges of known calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from accord.audit.escalation import (
    binomial_upper_tail,
    certify_escalation,
    clopper_pearson_lower,
    escalation_order,
    escalation_threshold,
)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (0, 5, 0.3),
        (1, 1, 0.85),
        (9, 10, 0.5),
        (850, 1000, 0.85),
        (870, 1000, 0.85),
        (3, 400, 0.01),
        (400, 400, 0.99),
        (12000, 20000, 0.6),
    ],
)
def test_binomial_tail_matches_scipy(k, n, p):
    assert binomial_upper_tail(k, n, p) == pytest.approx(
        stats.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300
    )


@pytest.mark.parametrize(("k", "n", "delta"), [(17, 20, 0.1), (850, 1000, 0.05), (1, 3, 0.1)])
def test_clopper_pearson_matches_beta_quantile(k, n, delta):
    assert clopper_pearson_lower(k, n, delta) == pytest.approx(
        stats.beta.ppf(delta, k, n - k + 1), abs=1e-9
    )


def _true_agreement_above(t: float) -> float:
    # Judge: confidence c ~ U(0.5, 1), agreement with humans ~ Bernoulli(g(c)) with g(c) = c
    # (calibrated): E[g(c) | c ≥ t] = (1 + t) / 2.
    return (1.0 + t) / 2.0


@pytest.mark.parametrize(
    ("target", "delta", "n"), [(0.85, 0.1, 400), (0.8, 0.05, 1000), (0.9, 0.2, 300)]
)
def test_promise_holds_in_at_least_one_minus_delta_of_draws(target, delta, n):
    rng = np.random.default_rng(7)
    draws, violations, abstained, thresholds = 400, 0, 0, []
    for _ in range(draws):
        conf = rng.uniform(0.5, 1.0, n)
        agrees = rng.uniform(size=n) < conf
        t = escalation_threshold(conf, agrees, target=target, delta=delta)
        if t is None:
            abstained += 1
            continue
        thresholds.append(t)
        violations += _true_agreement_above(t) < target
    # The promise: violation rate ≤ delta (a binomial sampling slack of 3 standard errors).
    slack = 3 * math.sqrt(delta * (1 - delta) / draws)
    assert violations / draws <= delta + slack
    # And it does not give coverage away: the best possible threshold is 2·target − 1; the
    # certified ones sit close above it. With a few hundred calibration pairs the walk from the
    # confident end sometimes stops at once on a chance disagreement (it abstains then); with
    # 1,000 it practically never does.
    assert abstained <= (0.3 if n < 1000 else 0.02) * draws
    assert np.median(thresholds) - (2 * target - 1) < 0.12


def test_miscalibrated_overconfident_judge_is_still_guarded():
    # Judge says 0.95 confidence but agrees only 70% of the time everywhere.
    rng = np.random.default_rng(3)
    violations = 0
    for _ in range(300):
        conf = rng.uniform(0.9, 1.0, 500)
        agrees = rng.uniform(size=500) < 0.7
        t = escalation_threshold(conf, agrees, target=0.8, delta=0.1)
        violations += t is not None  # any certified threshold is a false promise here
    assert violations / 300 <= 0.1 + 3 * math.sqrt(0.09 / 300)


def test_abstains_when_target_is_out_of_reach():
    rng = np.random.default_rng(11)
    conf = rng.uniform(0.5, 1.0, 2000)
    agrees = rng.uniform(size=2000) < 0.75  # flat 75% agreement whatever the confidence
    assert escalation_threshold(conf, agrees, target=0.9, delta=0.1) is None
    cert = certify_escalation(conf, agrees, target=0.9, delta=0.1)
    assert cert.threshold is None and cert.coverage == 0.0 and cert.n_kept == 0


def test_certificate_fields_are_consistent():
    rng = np.random.default_rng(5)
    conf = rng.uniform(0.5, 1.0, 1500)
    agrees = rng.uniform(size=1500) < conf
    cert = certify_escalation(conf, agrees, target=0.85, delta=0.1)
    kept = conf >= cert.threshold
    assert cert.n_kept == kept.sum() and cert.agree_kept == agrees[kept].sum()
    assert cert.coverage == pytest.approx(kept.mean())
    assert cert.agreement_lower >= cert.target - 1e-9  # what was certified
    # One grid step lower would not be certified by the same walk (or is the bottom).
    lower = certify_escalation(conf, agrees, target=0.85, delta=0.1, grid=[cert.threshold - 0.001])
    assert lower.threshold is None or cert.threshold - 0.001 < 0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="target"):
        escalation_threshold([0.9], [True], target=1.0, delta=0.1)
    with pytest.raises(ValueError, match="delta"):
        escalation_threshold([0.9], [True], target=0.8, delta=0.0)
    with pytest.raises(ValueError, match="same length"):
        escalation_threshold([0.9, 0.8], [True], target=0.8, delta=0.1)
    with pytest.raises(ValueError, match="outside"):
        escalation_threshold([1.2], [True], target=0.8, delta=0.1)
    with pytest.raises(ValueError, match="boolean"):
        escalation_threshold([0.9], [2], target=0.8, delta=0.1)


def test_escalation_order_most_uncertain_first():
    conf = np.array([0.9, 0.55, 0.7, 0.51, 0.95])
    assert escalation_order(conf, 0.8).tolist() == [3, 1, 2]
    assert escalation_order(conf, None).tolist() == [3, 1, 2, 0, 4]
