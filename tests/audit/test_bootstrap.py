"""Bootstrap intervals: seeded and deterministic, the exact resampling law, and agreement
with the slow one-resample-at-a-time bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from accord.audit import metrics
from accord.audit.bootstrap import (
    BootstrapConfig,
    bootstrap_ci,
    cohen_kappa_ci,
    fleiss_kappa_ci,
    krippendorff_alpha_ci,
    percent_agreement_ci,
    resample_kind_counts,
)


def data(seed=0, n_units=400):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 3, n_units).astype(float)
    raters = np.stack(
        [np.where(rng.random(n_units) < 0.7, base, rng.integers(0, 3, n_units)) for _ in range(4)]
    ).astype(float)
    return raters


def test_same_seed_same_interval_other_seed_other_interval():
    r = data()
    a = krippendorff_alpha_ci(r, level_of_measurement="nominal", config=BootstrapConfig(seed=3))
    b = krippendorff_alpha_ci(r, level_of_measurement="nominal", config=BootstrapConfig(seed=3))
    c = krippendorff_alpha_ci(r, level_of_measurement="nominal", config=BootstrapConfig(seed=4))
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)
    assert a.value == pytest.approx(metrics.krippendorff_alpha(r, level_of_measurement="nominal"))
    assert a.low < a.value < a.high


@pytest.mark.parametrize(
    "make_ci,metric,axis",
    [
        (
            lambda r, cfg: cohen_kappa_ci(r[0], r[1], config=cfg),
            lambda x: metrics.cohen_kappa(x[0], x[1]),
            1,
        ),
        (
            lambda r, cfg: percent_agreement_ci(r[0], r[1], config=cfg),
            lambda x: metrics.percent_agreement(x[0], x[1]),
            1,
        ),
        (
            lambda r, cfg: percent_agreement_ci(r, config=cfg),
            lambda x: metrics.percent_agreement(x),
            1,
        ),
        (
            lambda r, cfg: krippendorff_alpha_ci(r, level_of_measurement="ordinal", config=cfg),
            lambda x: metrics.krippendorff_alpha(x, level_of_measurement="ordinal"),
            1,
        ),
    ],
)
def test_fast_intervals_match_the_slow_bootstrap(make_ci, metric, axis):
    r = data(1, 300)
    r[0, ::7] = np.nan
    cfg = BootstrapConfig(n_resamples=2000, seed=5)
    fast = make_ci(r, cfg)
    slow = bootstrap_ci(metric, r, axis=axis, config=BootstrapConfig(n_resamples=2000, seed=6))
    assert fast.value == pytest.approx(slow.value)
    # Same sampling law: the interval ends agree up to Monte-Carlo error.
    width = slow.high - slow.low
    assert abs(fast.low - slow.low) < 0.15 * width
    assert abs(fast.high - slow.high) < 0.15 * width


def test_fleiss_interval():
    from statsmodels.stats.inter_rater import aggregate_raters

    table, _ = aggregate_raters(data(2).T.astype(int), n_cat=3)
    est = fleiss_kappa_ci(table, config=BootstrapConfig(n_resamples=500, seed=0))
    assert est.value == pytest.approx(metrics.fleiss_kappa(table))
    assert est.low < est.value < est.high and est.n_units == len(table)


def test_resampled_counts_are_multinomial_and_large_kind_counts_fall_back():
    cfg = BootstrapConfig(n_resamples=300, seed=0)
    counts = np.array([5, 0, 15])
    draws = resample_kind_counts(counts, cfg)
    assert draws.shape == (300, 3) and (draws.sum(1) == 20).all() and (draws[:, 1] == 0).all()
    many = np.ones(5000, dtype=int)
    draws = resample_kind_counts(many, BootstrapConfig(n_resamples=20, seed=0))
    assert draws.shape == (20, 5000) and (draws.sum(1) == 5000).all()
    assert np.array_equal(
        draws, resample_kind_counts(many, BootstrapConfig(n_resamples=20, seed=0))
    )


def test_no_resamples_and_bad_config():
    est = cohen_kappa_ci([0, 1, 1], [0, 1, 0], config=BootstrapConfig(n_resamples=0))
    assert np.isnan(est.low) and est.to_dict()["low"] is None
    with pytest.raises(ValueError, match="confidence_level"):
        BootstrapConfig(confidence_level=1.5)
    with pytest.raises(ValueError, match="n_resamples"):
        BootstrapConfig(n_resamples=-1)
