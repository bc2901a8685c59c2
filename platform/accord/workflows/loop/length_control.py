"""Length-controlled win-rate (AlpacaEval-LC style, Dubois et al. 2024).

A judge that likes long answers makes a policy that learned to talk longer look better. The
length-controlled win-rate asks what the win-rate would be if both responses had the same
length. For every judged sample pair ``i`` (ours vs theirs, on one held-out prompt) with judged
preference ``y_i = P(ours ≻ theirs)`` (a soft label in [0, 1]: the AI judge's probability, or
1 / ½ / 0 from a reward model) and token lengths ``ℓ_i`` (ours) and ``m_i`` (theirs), fit the
logistic regression

    logit P(ours ≻ theirs | i) = θ₀ + θ₁ · tanh((ℓ_i − m_i) / s),    s = std(ℓ − m)

by maximum likelihood on the soft labels (cross-entropy, Newton's method, a small ridge on θ₁
only so that a perfect split stays finite; s = 1 when every difference is the same). The
length-controlled win-rate is the model's prediction at zero length difference, ``σ(θ₀)``; θ₁
says how much the judge's preference follows length. Its interval is a paired bootstrap over
prompts: resample prompts (each with all its sample pairs) and refit, ``s`` kept from all data.

>>> import numpy as np
>>> d = np.array([-4.0, -2.0, 0.0, 2.0, 4.0] * 4)
>>> y = 1.0 / (1.0 + np.exp(-(0.0 + 2.0 * np.tanh(d / d.std()))))
>>> round(fit_length_model(y, d)["lc_win_rate"], 3)                 # length explains it all
0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...audit.bootstrap import BootstrapConfig, bootstrap_ci

RIDGE = 1e-3  # on θ₁ only


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


def _logistic_fit(y: np.ndarray, x: np.ndarray, iterations: int = 50) -> np.ndarray:
    """(θ₀, θ₁) maximising Σ y log p + (1 − y) log(1 − p) − RIDGE/2 · θ₁², p = σ(θ₀ + θ₁ x)."""
    design = np.column_stack([np.ones_like(x), x])
    theta = np.zeros(2)
    penalty = np.diag([0.0, RIDGE])
    for _ in range(iterations):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (y - p) - penalty @ theta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        hessian += 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta


def length_scale(length_diff: np.ndarray) -> float:
    """``s``: the standard deviation of the length differences (1 when they are all equal)."""
    d = np.asarray(length_diff, dtype=float)
    d = d[np.isfinite(d)]
    s = float(d.std()) if d.size else 0.0
    return s if s > 0 else 1.0


def fit_length_model(
    preference: np.ndarray, length_diff: np.ndarray, *, scale: float | None = None
) -> dict[str, float]:
    """The fitted (θ₀, θ₁) and ``σ(θ₀)``; NaN entries (no judgment) are left out."""
    y = np.asarray(preference, dtype=float).ravel()
    d = np.asarray(length_diff, dtype=float).ravel()
    keep = np.isfinite(y) & np.isfinite(d)
    y, d = np.clip(y[keep], 0.0, 1.0), d[keep]
    if y.size == 0:
        return {"lc_win_rate": float("nan"), "intercept": float("nan"), "slope": float("nan")}
    s = length_scale(d) if scale is None else scale
    theta = _logistic_fit(y, np.tanh(d / s))
    return {
        "lc_win_rate": float(_sigmoid(np.array(theta[0]))),
        "intercept": float(theta[0]),
        "slope": float(theta[1]),
        "scale": s,
    }


def length_controlled_win_rate(
    preference: list[list[float]],
    length_diff: list[list[float]],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """LC win-rate with a paired bootstrap CI over prompts. ``preference[i][j]`` and
    ``length_diff[i][j]`` belong to sample pair j of prompt i (NaN: not judged)."""
    width = max((len(p) for p in preference), default=0)
    y = np.full((len(preference), max(width, 1)), np.nan)
    d = np.full_like(y, np.nan)
    for i, (prefs, diffs) in enumerate(zip(preference, length_diff, strict=True)):
        y[i, : len(prefs)] = prefs
        d[i, : len(diffs)] = diffs
    scale = length_scale(d)
    fitted = fit_length_model(y, d, scale=scale)
    estimate = bootstrap_ci(
        lambda ys, ds: fit_length_model(ys, ds, scale=scale)["lc_win_rate"],
        y,
        d,
        config=BootstrapConfig(n_resamples=resamples, confidence_level=confidence, seed=seed),
    ).to_dict()
    return {
        "win_rate": estimate["value"],
        "low": estimate["low"],
        "high": estimate["high"],
        "length_slope": round(fitted["slope"], 6) if np.isfinite(fitted["slope"]) else None,
        "length_scale": round(scale, 6),
        "n_prompts": len(preference),
        "confidence": confidence,
    }
