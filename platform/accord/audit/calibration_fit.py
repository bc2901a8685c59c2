"""Calibrating an AI judge's soft labels against human labels: fit a map P(A) → P(humans prefer A).

Three methods, each a small pure function of (prob, outcome) arrays:

- ``temperature``: p' = σ(logit(p) / T), one parameter; keeps 0.5 at 0.5 and the order of
  labels, only sharpens (T < 1) or softens (T > 1) them; the safest with little data.
- ``platt``: p' = σ(a · logit(p) + b), two parameters; b also absorbs a constant lean
  towards A or B.
- ``isotonic``: the monotone step function closest to the outcomes (pool adjacent violators),
  interpolated linearly between steps; the most flexible, needs the most data.

``cross_fit`` returns out-of-sample calibrated probabilities (each item mapped by a map fitted
on the other folds), so ECE and Brier "after" are honest estimates of what the stored map will
do on new pairs, not the in-sample fit. ``calibration_report`` gives both, before → after, with
bootstrap confidence intervals.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p = rng.uniform(0.02, 0.98, 3000)
>>> truth = 1 / (1 + np.exp(-0.4 * np.log(p / (1 - p))))   # an overconfident judge
>>> y = (rng.uniform(size=3000) < truth).astype(int)
>>> cmap = fit_calibration(p, y, method="temperature")
>>> 2.2 < cmap.params["temperature"] < 2.9     # the judge's logits are 2.5x too large
True
>>> float(cmap.apply([0.5])[0])
0.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from accord.audit.calibration import _check, brier_score, expected_calibration_error

Method = Literal["temperature", "platt", "isotonic"]
METHODS: tuple[str, ...] = ("temperature", "platt", "isotonic")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class CalibrationMap:
    """A fitted map; ``params`` is all it takes to rebuild it (stored with the calibration)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def apply(self, prob) -> np.ndarray:
        p = np.asarray(prob, dtype=np.float64)
        if self.method == "temperature":
            return _sigmoid(_logit(p) / self.params["temperature"])
        if self.method == "platt":
            return _sigmoid(self.params["a"] * _logit(p) + self.params["b"])
        if self.method == "isotonic":
            return np.interp(p, self.params["x"], self.params["y"])
        raise ValueError(f"unknown calibration method {self.method!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CalibrationMap:
        if d.get("method") not in METHODS:
            raise ValueError(
                f"unknown calibration method {d.get('method')!r}; "
                f"expected one of {', '.join(METHODS)}"
            )
        return cls(method=d["method"], params=dict(d["params"]))


def _newton_logistic(x: np.ndarray, y: np.ndarray, *, intercept: bool) -> np.ndarray:
    """Maximum-likelihood logistic regression on one feature (with or without intercept),
    by Newton's method with step halving; a tiny ridge keeps separable data finite."""
    design = np.column_stack([x, np.ones_like(x)]) if intercept else x[:, None]
    w = np.zeros(design.shape[1])
    w[0] = 1.0
    ridge = 1e-6

    def loss(w):
        z = design @ w
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * ridge * w @ w)

    current = loss(w)
    for _ in range(100):
        q = _sigmoid(design @ w)
        grad = design.T @ (q - y) + ridge * w
        hess = (design * (q * (1 - q))[:, None]).T @ design + ridge * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-8:
            trial = w - scale * step
            value = loss(trial)
            if value <= current:
                break
            scale *= 0.5
        w, previous, current = trial, current, value
        if abs(previous - current) < 1e-12 * max(1.0, abs(current)):
            break
    return w


def _pool_adjacent_violators(y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Non-decreasing least-squares fit of ``y`` (already in x order)."""
    values, weights, sizes = [], [], []
    for v, w in zip(y.tolist(), weight.tolist(), strict=True):
        values.append(v)
        weights.append(w)
        sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            w_sum = weights[-2] + weights[-1]
            merged = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w_sum
            values[-2:], weights[-2:] = [merged], [w_sum]
            sizes[-2:] = [sizes[-2] + sizes[-1]]
    return np.repeat(values, sizes)


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    # Items with the same probability share one value (their mean outcome), as in scikit-learn.
    xs, inverse = np.unique(p, return_inverse=True)
    weight = np.bincount(inverse).astype(np.float64)
    means = np.bincount(inverse, weights=y) / weight
    fitted = _pool_adjacent_violators(means, weight)
    return {"x": xs.tolist(), "y": np.clip(fitted, 0.0, 1.0).tolist()}


def fit_calibration(prob, outcome, *, method: Method | str = "temperature") -> CalibrationMap:
    """Fit ``method`` on pairs with both the judge's P(A) (``prob``) and the human outcome
    (1 = humans preferred A, 0 = B; ties left out by the caller)."""
    y, p = _check(outcome, prob)
    if method not in METHODS:
        raise ValueError(
            f"unknown calibration method {method!r}; expected one of {', '.join(METHODS)}"
        )
    if y.size < 2 or y.min() == y.max():
        raise ValueError(
            f"calibration needs both outcomes among its pairs (got {y.size} pairs, "
            f"{int(y.sum())} preferring A)"
        )
    if method == "isotonic":
        return CalibrationMap("isotonic", _fit_isotonic(p, y))
    z = _logit(p)
    if method == "temperature":
        [inverse_t] = _newton_logistic(z, y, intercept=False)
        if inverse_t <= 0:
            raise ValueError(
                "the judge's labels are anti-correlated with the human labels: a "
                "temperature cannot calibrate them (try platt or isotonic)"
            )
        return CalibrationMap("temperature", {"temperature": float(1.0 / inverse_t)})
    a, b = _newton_logistic(z, y, intercept=True)
    return CalibrationMap("platt", {"a": float(a), "b": float(b)})


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """A fixed random assignment of n items to ``folds`` folds of near-equal size."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % folds)


def cross_fit(
    prob, outcome, *, method: Method | str = "temperature", folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Out-of-sample calibrated probabilities: each fold mapped by a fit on the others."""
    y, p = _check(outcome, prob)
    if y.size < 2 * folds:
        raise ValueError(
            f"cross-fitting with {folds} folds needs at least {2 * folds} pairs, got {y.size}"
        )
    assignment = fold_ids(y.size, folds, seed)
    out = np.empty_like(p)
    for fold in range(folds):
        held = assignment == fold
        out[held] = fit_calibration(p[~held], y[~held], method=method).apply(p[held])
    return out


def _bootstrap(
    stat,
    y: np.ndarray,
    p_before: np.ndarray,
    p_after: np.ndarray,
    *,
    n_resamples: int,
    confidence_level: float,
    seed: int,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    index = rng.integers(0, y.size, size=(n_resamples, y.size))
    before = np.array([stat(y[i], p_before[i]) for i in index])
    after = np.array([stat(y[i], p_after[i]) for i in index])
    tail = (1.0 - confidence_level) / 2.0
    q = [tail, 1.0 - tail]

    def est(values, full):
        lo, hi = np.quantile(values, q)
        return {"value": round(float(full), 6), "ci": [round(float(lo), 6), round(float(hi), 6)]}

    return {
        "before": est(before, stat(y, p_before)),
        "after": est(after, stat(y, p_after)),
        "change": est(after - before, stat(y, p_after) - stat(y, p_before)),
    }


def calibration_report(
    prob,
    outcome,
    *,
    method: Method | str = "temperature",
    folds: int = 5,
    n_bins: int = 10,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit on all pairs (the map to store) and report ECE and Brier before → after, the after
    figures out-of-sample by cross-fitting, each with a paired bootstrap CI."""
    y, p = _check(outcome, prob)
    cmap = fit_calibration(p, y, method=method)
    held_out = cross_fit(p, y, method=method, folds=folds, seed=seed)

    def ece(yy, pp):
        return expected_calibration_error(yy, pp, n_bins=n_bins)

    boot = {"n_resamples": n_resamples, "confidence_level": confidence_level, "seed": seed}
    return {
        "method": method,
        "n": int(y.size),
        "folds": folds,
        "map": cmap.to_dict(),
        "ece": _bootstrap(
            ece,
            y,
            p,
            held_out,
            n_resamples=n_resamples,
            confidence_level=confidence_level,
            seed=seed,
        ),
        "brier": _bootstrap(
            brier_score,
            y,
            p,
            held_out,
            n_resamples=n_resamples,
            confidence_level=confidence_level,
            seed=seed + 1,
        ),
        "bootstrap": boot,
    }
