"""Calibration of soft AI labels against human labels: Brier score, expected calibration
error (ECE) and the reliability curve.

``prob`` is the judge's P(response_a preferred) and ``outcome`` is 1 where the human majority
preferred response_a, 0 where it preferred response_b (ties are left out by the caller).
Bins are equal-width on [0, 1] and right-closed, as in scikit-learn's ``calibration_curve``.

>>> from accord.audit.calibration import brier_score, expected_calibration_error
>>> brier_score([1, 0], [0.5, 0.5])
0.25
>>> expected_calibration_error([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])
0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per non-empty bin: mean predicted probability, observed frequency, number of items."""

    prob_pred: np.ndarray
    prob_true: np.ndarray
    counts: np.ndarray
    n_bins: int

    def to_dict(self) -> dict:
        return {
            "n_bins": self.n_bins,
            "prob_pred": np.round(self.prob_pred, 6).tolist(),
            "prob_true": np.round(self.prob_true, 6).tolist(),
            "counts": self.counts.tolist(),
        }


def _check(outcome, prob) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(outcome, dtype=np.float64).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"outcome and prob need the same length, got {y.size} and {p.size}")
    if np.isnan(p).any() or np.isnan(y).any():
        raise ValueError("outcome and prob must not contain NaN (drop unlabeled items first)")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("outcome must be 0 or 1")
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("prob has values outside [0, 1]")
    return y, p


def _bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    if n_bins < 1:
        raise ValueError(f"n_bins must be ≥ 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], p)


def brier_score(outcome, prob) -> float:
    """Mean squared difference between the probability and the 0/1 outcome."""
    y, p = _check(outcome, prob)
    return float(np.mean((p - y) ** 2)) if y.size else float("nan")


def reliability_curve(outcome, prob, n_bins: int = 10) -> ReliabilityCurve:
    """Observed frequency against mean predicted probability, per non-empty bin."""
    y, p = _check(outcome, prob)
    ids = _bins(p, n_bins)
    total = np.bincount(ids, minlength=n_bins)
    sum_p = np.bincount(ids, weights=p, minlength=n_bins)
    sum_y = np.bincount(ids, weights=y, minlength=n_bins)
    nz = total > 0
    return ReliabilityCurve(sum_p[nz] / total[nz], sum_y[nz] / total[nz], total[nz], n_bins)


def expected_calibration_error(outcome, prob, n_bins: int = 10) -> float:
    """Σ_bins (n_bin / n) · |observed frequency − mean probability|."""
    curve = reliability_curve(outcome, prob, n_bins)
    n = curve.counts.sum()
    if n == 0:
        return float("nan")
    return float(np.sum(curve.counts / n * np.abs(curve.prob_true - curve.prob_pred)))


def calibration_summary(outcome, prob, n_bins: int = 10) -> dict:
    """Brier score, ECE and the reliability curve as one JSON-ready dict."""
    y, p = _check(outcome, prob)
    return {
        "n": int(y.size),
        "brier": _round(brier_score(y, p)),
        "ece": _round(expected_calibration_error(y, p, n_bins)),
        "curve": reliability_curve(y, p, n_bins).to_dict(),
    }


def _round(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 6)
