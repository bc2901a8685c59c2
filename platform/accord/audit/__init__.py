"""Agreement auditing: how far to trust each label source.

Metrics are pure numpy functions with the conventions of scikit-learn, statsmodels and the
``krippendorff`` package; reports read judgments from the store with SQL into arrays.

>>> from accord.audit import cohen_kappa, krippendorff_alpha
>>> round(cohen_kappa(["a", "b", "b"], ["a", "b", "a"]), 3)
0.4
"""

from .bootstrap import (
    BootstrapConfig,
    Estimate,
    bootstrap_ci,
    cohen_kappa_ci,
    fleiss_kappa_ci,
    krippendorff_alpha_ci,
    percent_agreement_ci,
)
from .calibration import (
    ReliabilityCurve,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    reliability_curve,
)
from .metrics import cohen_kappa, fleiss_kappa, krippendorff_alpha, percent_agreement

__all__ = [
    "BootstrapConfig",
    "Estimate",
    "ReliabilityCurve",
    "bootstrap_ci",
    "brier_score",
    "calibration_summary",
    "cohen_kappa",
    "cohen_kappa_ci",
    "expected_calibration_error",
    "fleiss_kappa",
    "fleiss_kappa_ci",
    "krippendorff_alpha",
    "krippendorff_alpha_ci",
    "percent_agreement",
    "percent_agreement_ci",
    "reliability_curve",
]
