"""Which AI labels to keep, with a guarantee: a certified confidence threshold
("trust or escalate").

On a calibration set of pairs that carry both an AI label and a human label, each pair gives the
AI label's confidence (e.g. ``max(p, 1 - p)`` of the raw or calibrated soft label) and whether
the AI label agrees with the human one. ``escalation_threshold`` returns the lowest threshold t
such that, with probability at least ``1 - delta`` over the draw of the calibration set,

    P(AI agrees with humans | confidence ≥ t) ≥ target,

or ``None`` when no threshold can be certified. AI labels at or above t are kept; the others go
to humans (escalated). The method follows Jung et al. 2024 ("Trust or Escalate", arXiv
2407.18370) and Learn-then-Test (Angelopoulos et al. 2021):

- a fixed grid of candidate thresholds (0.001 apart on [0, 1] by default) is walked from the
  most confident end downwards; at each candidate λ the null "agreement above λ < target" is
  tested with the exact binomial tail: with n pairs at or above λ of which k agree,
  p = P(Binomial(n, target) ≥ k);
- fixed-sequence testing: nulls are rejected while p ≤ delta, and the walk stops at the first
  p > delta. Only the first true null can be falsely rejected, at level delta, so the family-wise
  error is at most delta with no multiplicity correction; every candidate before the stop is
  certified, and the lowest of them is returned: no coverage is given away beyond the stop;
- the walk starts at the first candidate with at least ``start_share`` of the calibration pairs
  (10 % by default) above it, and never before ``ceil(log delta / log target)`` pairs, the
  fewest with which even a record of all agreements could be certified. Starting at the very
  top would let one chance disagreement among the few most confident pairs end the walk at
  once (abstaining, coverage thrown away); the start depends on the confidences only, never on
  agreement, and the guarantee with it is checked by simulation in the tests (violations stay
  under delta; abstentions fall from ~8 % to ~0 % at 1,000 pairs against a top start).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> conf = rng.uniform(0.5, 1.0, 2000)
>>> agrees = rng.uniform(size=2000) < conf          # a calibrated judge
>>> t = escalation_threshold(conf, agrees, target=0.85, delta=0.1)
>>> 0.7 < t < 0.8                                  # true agreement above 0.7 is 0.85
True
>>> escalation_threshold(conf, agrees, target=0.999, delta=0.1) is None
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_GRID_STEP = 0.001
METHOD = "fixed-sequence testing, exact binomial tail"


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < eps:
            break
    return h


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and x in [0, 1]."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) ≥ k), exact (through the regularized incomplete beta function).

    >>> round(binomial_upper_tail(9, 10, 0.5), 6)   # (10 + 1) / 1024
    0.010742
    """
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need n ≥ 0 and p in [0, 1], got n={n}, p={p}")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return regularized_incomplete_beta(k, n - k + 1, p)


def clopper_pearson_lower(k: int, n: int, delta: float) -> float:
    """One-sided lower confidence bound at level 1 - delta for a binomial rate (k of n)."""
    if n == 0 or k == 0:
        return 0.0
    lo, hi = 0.0, k / n
    for _ in range(60):  # bisection: P(Binomial(n, q) ≥ k) grows with q
        mid = 0.5 * (lo + hi)
        if binomial_upper_tail(k, n, mid) > delta:
            hi = mid
        else:
            lo = mid
    return lo


@dataclass(frozen=True)
class EscalationCertificate:
    """The outcome of certifying a threshold on a human-labelled calibration set.

    ``threshold`` is None when no threshold could be certified (then nothing is kept).
    ``coverage`` is the share of calibration pairs at or above the threshold; ``agreement`` and
    ``agreement_lower`` are their observed agreement and its one-sided (1 - delta)
    Clopper–Pearson lower bound.
    """

    threshold: float | None
    target: float
    delta: float
    n_calibration: int
    n_kept: int
    agree_kept: int
    coverage: float
    agreement: float | None
    agreement_lower: float | None
    tests_run: int
    method: str = METHOD

    def to_dict(self) -> dict:
        return asdict(self)


def _check_inputs(confidence, agrees, target: float, delta: float) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    c = np.asarray(confidence, dtype=np.float64).ravel()
    a = np.asarray(agrees).ravel()
    if c.shape != a.shape:
        raise ValueError(f"confidence and agrees need the same length, got {c.size} and {a.size}")
    if np.isnan(c).any():
        raise ValueError("confidence must not contain NaN")
    if c.size and (c.min() < 0.0 or c.max() > 1.0):
        raise ValueError("confidence has values outside [0, 1]")
    if a.dtype != bool:
        if not np.isin(a, (0, 1)).all():
            raise ValueError("agrees must be boolean (or 0/1)")
        a = a.astype(bool)
    return c, a


def default_grid(step: float = DEFAULT_GRID_STEP) -> np.ndarray:
    """Candidate thresholds from 1 down to 0, fixed before any data is seen."""
    count = int(round(1.0 / step))
    return np.arange(count, -1, -1, dtype=np.float64) / count


def certify_escalation(
    confidence, agrees, *, target: float, delta: float, grid=None, start_share: float = 0.1
) -> EscalationCertificate:
    """Certify the lowest threshold whose kept AI labels agree with humans at ≥ ``target``
    with probability ≥ ``1 - delta``; see the module docstring for the method."""
    c, a = _check_inputs(confidence, agrees, target, delta)
    lambdas = default_grid() if grid is None else np.sort(np.asarray(grid, np.float64))[::-1]
    order = np.argsort(-c, kind="stable")
    c_desc, agree_cum = c[order], np.concatenate([[0], np.cumsum(a[order])])
    # n(λ) = number of confidences ≥ λ, for every candidate at once.
    counts = np.searchsorted(-c_desc, -lambdas, side="right")
    if not 0.0 <= start_share < 1.0:
        raise ValueError(f"start_share must be in [0, 1), got {start_share}")
    n_min = max(math.ceil(math.log(delta) / math.log(target)), math.ceil(start_share * c.size))
    threshold, tests, cache = None, 0, {}
    for lam, n in zip(lambdas, counts, strict=True):
        n = int(n)
        if n < n_min:
            continue  # before the start (see the module docstring)
        k = int(agree_cum[n])
        if (n, k) not in cache:
            cache[(n, k)] = binomial_upper_tail(k, n, target)
            tests += 1
        if cache[(n, k)] > delta:
            break
        threshold = float(lam)
    n_kept = int(np.sum(c >= threshold)) if threshold is not None else 0
    agree_kept = int(agree_cum[n_kept])
    return EscalationCertificate(
        threshold=threshold,
        target=target,
        delta=delta,
        n_calibration=int(c.size),
        n_kept=n_kept,
        agree_kept=agree_kept,
        coverage=n_kept / c.size if c.size else 0.0,
        agreement=agree_kept / n_kept if n_kept else None,
        agreement_lower=clopper_pearson_lower(agree_kept, n_kept, delta) if n_kept else None,
        tests_run=tests,
    )


def escalation_threshold(confidence, agrees, *, target: float, delta: float) -> float | None:
    """The certified threshold t (keep AI labels with confidence ≥ t), or None."""
    return certify_escalation(confidence, agrees, target=target, delta=delta).threshold


def escalation_order(confidence, threshold: float | None) -> np.ndarray:
    """Indices of the items to escalate (confidence below ``threshold``; all when None), most
    uncertain first."""
    c = np.asarray(confidence, dtype=np.float64).ravel()
    below = np.flatnonzero(c < threshold) if threshold is not None else np.arange(c.size)
    return below[np.argsort(c[below], kind="stable")]
