"""accord.audit.metrics against scikit-learn, statsmodels and krippendorff on random data
with ties and missing values, and against Krippendorff's published worked example."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from accord.audit.metrics import cohen_kappa, fleiss_kappa, krippendorff_alpha, percent_agreement

SEEDS = range(8)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four coders,
# twelve units, missing values. Published: nominal 0.743, ordinal 0.815, interval 0.849,
# ratio 0.797.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
        [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
    ]
)


def random_labels(rng, n, n_labels, missing=0.0, skew=True):
    p = rng.dirichlet(np.ones(n_labels) * (0.7 if skew else 5.0))
    labels = rng.choice(n_labels, size=n, p=p).astype(float)
    labels[rng.random(n) < missing] = np.nan
    return labels


def correlated(rng, base, n_labels, flip):
    other = base.copy()
    change = rng.random(base.size) < flip
    other[change] = rng.integers(0, n_labels, change.sum())
    return other


@pytest.mark.parametrize(
    "level,published",
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_published_example(level, published):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level_of_measurement=level) == pytest.approx(
        published, abs=5e-4
    )


def test_krippendorff_published_example_with_strings():
    names = np.array(["", "very low", "low", "mid", "high", "very high"], dtype=object)
    words = np.where(
        np.isnan(KRIPPENDORFF_2011), np.nan, names[np.nan_to_num(KRIPPENDORFF_2011).astype(int)]
    ).astype(str)
    assert krippendorff_alpha(words, level_of_measurement="nominal") == pytest.approx(
        0.743, abs=5e-4
    )
    domain = ["very low", "low", "mid", "high", "very high"]
    assert krippendorff_alpha(words, level_of_measurement="ordinal", value_domain=domain) == (
        pytest.approx(0.815, abs=5e-4)
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_matches_package(seed, level):
    rng = np.random.default_rng(seed)
    n_raters, n_units, n_labels = rng.integers(2, 7), rng.integers(5, 300), rng.integers(2, 6)
    base = random_labels(rng, n_units, n_labels)
    data = np.stack([correlated(rng, base, n_labels, 0.4) for _ in range(n_raters)]) + 1
    data[rng.random(data.shape) < 0.3] = np.nan  # missing, and units rated once
    data[:, 0] = np.nan
    data[0, 0] = 2.0
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert krippendorff_alpha(data, level_of_measurement=level) == pytest.approx(
        expected, rel=1e-9, abs=1e-12
    )


def test_krippendorff_value_counts_and_errors():
    counts = np.array([[1, 0, 0], [0, 2, 0], [2, 0, 1], [0, 1, 1]])
    expected = krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    assert krippendorff_alpha(value_counts=counts, level_of_measurement="nominal") == pytest.approx(
        expected
    )
    with pytest.raises(ValueError, match="more than one value"):
        krippendorff_alpha([[1, 1], [1, 1]], level_of_measurement="nominal")
    with pytest.raises(ValueError, match="at least two raters"):
        krippendorff_alpha([[1, np.nan], [np.nan, 2]], level_of_measurement="nominal")
    with pytest.raises(ValueError, match="ordered value_domain"):
        krippendorff_alpha([["a", "b"], ["a", "a"]], level_of_measurement="ordinal")
    with pytest.raises(ValueError, match="level_of_measurement"):
        krippendorff_alpha([[1, 2], [1, 1]], level_of_measurement="cardinal")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(seed, weights):
    rng = np.random.default_rng(seed)
    n_labels = int(rng.integers(2, 6))
    a = random_labels(rng, int(rng.integers(10, 500)), n_labels)
    b = correlated(rng, a, n_labels, 0.5)
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(
        cohen_kappa_score(a, b, weights=weights), rel=1e-9, abs=1e-12
    )
    words = np.array(["a", "b", "tie", "x", "y"])[:n_labels]
    wa, wb = words[a.astype(int)], words[b.astype(int)]
    assert cohen_kappa(wa, wb, weights=weights) == pytest.approx(
        cohen_kappa_score(wa, wb, weights=weights), rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_drops_missing_like_sklearn_on_complete_pairs(seed):
    rng = np.random.default_rng(seed)
    a = random_labels(rng, 300, 3, missing=0.2)
    b = correlated(rng, np.nan_to_num(a, nan=0.0), 3, 0.4)
    b[rng.random(300) < 0.2] = np.nan
    keep = ~np.isnan(a) & ~np.isnan(b)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a[keep], b[keep]))
    objects = np.array(["a", "b", "tie", None], dtype=object)
    oa = objects[np.nan_to_num(a, nan=3).astype(int)]
    ob = objects[np.nan_to_num(b, nan=3).astype(int)]
    assert cohen_kappa(oa, ob) == pytest.approx(cohen_kappa_score(a[keep], b[keep]))


def test_cohen_kappa_labels_and_errors():
    a, b = ["a", "b", "a", "tie"], ["a", "b", "b", "tie"]
    order = ["a", "tie", "b"]
    assert cohen_kappa(a, b, labels=order, weights="linear") == pytest.approx(
        cohen_kappa_score(a, b, labels=order, weights="linear")
    )
    with pytest.raises(ValueError, match="outside the label domain"):
        cohen_kappa(a, b, labels=["a", "b"])
    with pytest.raises(ValueError, match="one length"):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa(a, b, weights="cubic")
    assert np.isnan(cohen_kappa(["a", "a"], ["a", "a"]))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", ["fleiss", "randolph"])
def test_fleiss_kappa_matches_statsmodels(seed, method):
    rng = np.random.default_rng(seed)
    n_raters, n_units, n_labels = rng.integers(2, 8), rng.integers(5, 400), rng.integers(2, 6)
    base = random_labels(rng, n_units, n_labels)
    ratings = np.stack([correlated(rng, base, n_labels, 0.5) for _ in range(n_raters)], axis=1)
    table, _ = aggregate_raters(ratings.astype(int), n_cat=n_labels)
    assert fleiss_kappa(table, method=method) == pytest.approx(
        sm_fleiss_kappa(table, method=method), rel=1e-9, abs=1e-12
    )


def test_fleiss_kappa_published_example():
    # Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(table) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_needs_equal_raters():
    with pytest.raises(ValueError, match="row 1 has 2"):
        fleiss_kappa([[1, 2], [1, 1]])


@pytest.mark.parametrize("seed", SEEDS)
def test_percent_agreement(seed):
    rng = np.random.default_rng(seed)
    a = random_labels(rng, 200, 3, missing=0.1)
    b = correlated(rng, np.nan_to_num(a), 3, 0.5)
    keep = ~np.isnan(a)
    assert percent_agreement(a, b) == pytest.approx(np.mean(a[keep] == b[keep]))
    # Two raters as reliability data: the same number.
    assert percent_agreement(np.stack([a, b])) == pytest.approx(percent_agreement(a, b))
    # Three raters, full design: pairwise agreement equals statsmodels' mean per-unit agreement.
    c = correlated(rng, np.nan_to_num(a), 3, 0.5)
    full = np.stack([np.nan_to_num(a), b, c]).astype(int)
    table, _ = aggregate_raters(full.T, n_cat=3)
    per_unit = ((table**2).sum(1) - 3) / 6
    assert percent_agreement(full) == pytest.approx(per_unit.mean())


def test_alpha_on_sparse_float_data_with_a_domain_matches_the_package():
    # Many raters, few ratings per unit (the shape of real annotation), and a domain with a
    # value nobody used: the sparse path must give the package's value.
    rng = np.random.default_rng(12)
    data = np.full((40, 3000), np.nan)
    for _ in range(3):
        data[rng.integers(0, 40, 3000), np.arange(3000)] = rng.integers(0, 3, 3000)
    for level in ("nominal", "ordinal", "interval"):
        expected = krippendorff.alpha(
            reliability_data=data, level_of_measurement=level, value_domain=[0, 1, 2, 3]
        )
        ours = krippendorff_alpha(data, level_of_measurement=level, value_domain=[0, 1, 2, 3])
        assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)
