"""Calibration maps fitted against human labels: checked against scikit-learn and on judges
of known miscalibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from accord.audit.calibration import expected_calibration_error
from accord.audit.calibration_fit import (
    CalibrationMap,
    calibration_report,
    cross_fit,
    fit_calibration,
)


def _judge(n, *, slope=0.4, lean=0.0, seed=0):
    """A judge whose P(A) is miscalibrated in a known way: truth = σ(slope·logit(p) + lean)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    truth = 1 / (1 + np.exp(-(slope * np.log(p / (1 - p)) + lean)))
    y = (rng.uniform(size=n) < truth).astype(int)
    return p, y, truth


def test_isotonic_matches_scikit_learn():
    p, y, _ = _judge(800, seed=1)
    p = np.round(p, 2)  # ties, as soft labels from few principles have
    ours = fit_calibration(p, y, method="isotonic")
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
    grid = np.linspace(0, 1, 201)
    np.testing.assert_allclose(ours.apply(grid), ref.predict(grid), atol=1e-9)


def test_platt_matches_unpenalised_logistic_regression():
    p, y, _ = _judge(2000, slope=0.6, lean=0.3, seed=2)
    ours = fit_calibration(p, y, method="platt")
    z = np.log(p / (1 - p))[:, None]
    ref = LogisticRegression(C=1e8, tol=1e-10, max_iter=1000).fit(z, y)
    assert ours.params["a"] == pytest.approx(ref.coef_[0, 0], abs=1e-3)
    assert ours.params["b"] == pytest.approx(ref.intercept_[0], abs=1e-3)


def test_temperature_recovers_known_overconfidence_and_keeps_half():
    p, y, _ = _judge(20000, slope=0.4, seed=3)
    cmap = fit_calibration(p, y, method="temperature")
    assert cmap.params["temperature"] == pytest.approx(2.5, rel=0.08)
    assert cmap.apply([0.5])[0] == pytest.approx(0.5)
    # Symmetric: swapping A and B mirrors the calibrated label.
    np.testing.assert_allclose(cmap.apply(1 - p), 1 - cmap.apply(p), atol=1e-12)


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_cross_fitted_labels_are_better_calibrated_out_of_sample(method):
    p, y, truth = _judge(3000, slope=0.4, lean=0.2, seed=4)
    held = cross_fit(p, y, method=method, folds=5, seed=0)
    assert expected_calibration_error(y, held) < expected_calibration_error(y, p) / 2
    # Closer to the true probabilities than the raw labels are.
    assert np.mean(np.abs(held - truth)) < np.mean(np.abs(p - truth)) / 2


def test_report_has_before_after_with_intervals_and_a_storable_map():
    p, y, _ = _judge(600, seed=5)
    report = calibration_report(p, y, method="platt", n_resamples=200)
    for metric in ("ece", "brier"):
        for side in ("before", "after", "change"):
            lo, hi = report[metric][side]["ci"]
            assert lo <= report[metric][side]["value"] <= hi
        assert report[metric]["after"]["value"] < report[metric]["before"]["value"]
    rebuilt = CalibrationMap.from_dict(report["map"])
    np.testing.assert_allclose(rebuilt.apply(p), fit_calibration(p, y, method="platt").apply(p))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="unknown calibration method"):
        fit_calibration([0.2, 0.8], [0, 1], method="beta")
    with pytest.raises(ValueError, match="both outcomes"):
        fit_calibration([0.2, 0.8], [1, 1])
    with pytest.raises(ValueError, match="anti-correlated"):
        fit_calibration([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], method="temperature")
    with pytest.raises(ValueError, match="at least 10 pairs"):
        cross_fit([0.2, 0.8] * 4, [0, 1] * 4, folds=5)
    with pytest.raises(ValueError, match="outside"):
        fit_calibration([1.5, 0.2], [1, 0])
