"""Calibration on known cases and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from accord.audit.calibration import (
    brier_score,
    calibration_summary,
    expected_calibration_error,
    reliability_curve,
)


def test_known_cases():
    assert brier_score([1, 1, 0, 0], [1, 1, 0, 0]) == 0.0
    assert brier_score([1, 0], [0, 1]) == 1.0
    assert brier_score([1, 0, 1, 0], [0.5] * 4) == 0.25
    # Always 0.8 but right only half the time: ECE 0.3.
    assert expected_calibration_error([1, 0, 1, 0], [0.8] * 4) == pytest.approx(0.3)
    # Two bins, each calibrated.
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    p = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75]
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.0)


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    p = rng.random(500)
    p[:20] = 0.1 * rng.integers(0, 11, 20)  # values exactly on bin edges
    y = (rng.random(500) < p**1.5).astype(int)
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p))
    curve = reliability_curve(y, p, n_bins=10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    np.testing.assert_allclose(curve.prob_true, prob_true)
    np.testing.assert_allclose(curve.prob_pred, prob_pred)
    expected_ece = np.sum(curve.counts / 500 * np.abs(prob_true - prob_pred))
    assert expected_calibration_error(y, p) == pytest.approx(expected_ece)


def test_bad_input():
    with pytest.raises(ValueError, match="outside"):
        brier_score([1], [1.5])
    with pytest.raises(ValueError, match="0 or 1"):
        brier_score([2], [0.5])
    with pytest.raises(ValueError, match="same length"):
        brier_score([1, 0], [0.5])
    summary = calibration_summary([1, 0], [0.9, 0.2])
    assert summary["n"] == 2 and summary["brier"] == pytest.approx(0.025)
