"""Bradley–Terry strengths from pairwise comparisons, by maximum likelihood.

Under Bradley–Terry, item i beats item j with probability σ(θ_i − θ_j). Given comparisons
(i, j, p) — "i beat j" with weight p (a soft label: the judge's P(i better); a hard win is 1)
— the log-likelihood Σ w·[p·log σ(θ_i − θ_j) + (1 − p)·log σ(θ_j − θ_i)] is concave; Newton's
method with a backtracking line search finds its maximum. Strengths are only defined up to a
constant: they are returned with mean 0. A comparison graph that is not connected, or a set of
hard wins where one item beat every other, has no finite maximum: ``l2`` (a Gaussian prior on
θ) makes it finite; without it such data is refused.

>>> import numpy as np
>>> theta = np.array([1.0, 0.0, -1.0])
>>> comps = [(i, j, float(1 / (1 + np.exp(theta[j] - theta[i]))))
...          for i in range(3) for j in range(i + 1, 3)]
>>> np.round(fit_bradley_terry(3, comps), 6).tolist()
[1.0, 0.0, -1.0]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _connected(k: int, i: np.ndarray, j: np.ndarray) -> bool:
    parent = list(range(k))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(i.tolist(), j.tolist()):
        parent[root(a)] = root(b)
    return len({root(x) for x in range(k)}) == 1


def log_likelihood(theta, i, j, p, w, l2: float = 0.0) -> float:
    d = theta[i] - theta[j]
    ll = np.sum(w * (p * _log_sigmoid(d) + (1.0 - p) * _log_sigmoid(-d)))
    return float(ll - 0.5 * l2 * np.sum(theta**2))


def fit_bradley_terry(
    k: int,
    comparisons: Iterable[tuple[int, int, float] | tuple[int, int, float, float]],
    *,
    l2: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> np.ndarray:
    """Maximum-likelihood strengths θ (mean 0) of ``k`` items from ``(i, j, p[, weight])``
    comparisons: P(i beats j) observed as ``p`` in [0, 1]."""
    rows = [tuple(c) for c in comparisons]
    if k < 2:
        raise ValueError(f"Bradley–Terry needs at least 2 items, got {k}")
    if not rows:
        raise ValueError("Bradley–Terry needs at least one comparison")
    i = np.array([int(r[0]) for r in rows])
    j = np.array([int(r[1]) for r in rows])
    p = np.array([float(r[2]) for r in rows])
    w = np.array([float(r[3]) if len(r) > 3 else 1.0 for r in rows])
    if ((i < 0) | (i >= k) | (j < 0) | (j >= k) | (i == j)).any():
        raise ValueError(f"comparisons must name two different items in 0..{k - 1}")
    if not np.isfinite(p).all() or ((p < 0) | (p > 1)).any():
        raise ValueError("comparison probabilities must be within [0, 1]")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("comparison weights must be finite and ≥ 0")
    if l2 < 0:
        raise ValueError(f"l2 must be ≥ 0, got {l2}")
    if l2 == 0:
        if not _connected(k, i, j):
            raise ValueError("the comparisons do not connect all items: no finite maximum")
        # every item needs a share of wins and of losses, or its strength runs off to ±∞
        wins = np.bincount(i, weights=w * p, minlength=k) + np.bincount(
            j, weights=w * (1 - p), minlength=k
        )
        losses = np.bincount(i, weights=w * (1 - p), minlength=k) + np.bincount(
            j, weights=w * p, minlength=k
        )
        if (wins <= 0).any() or (losses <= 0).any():
            raise ValueError(
                "an item won or lost every comparison: no finite maximum (pass l2 > 0)"
            )
    theta = np.zeros(k)
    # A tiny ridge on the Hessian fixes the free constant (the gradient sums to zero).
    ridge = l2 + 1e-12
    for _ in range(max_iter):
        d = theta[i] - theta[j]
        s = _sigmoid(d)
        r = w * (p - s)  # d ll / d d
        grad = np.bincount(i, weights=r, minlength=k) - np.bincount(j, weights=r, minlength=k)
        grad -= l2 * theta
        h = w * s * (1 - s)
        hess = np.zeros((k, k))
        np.add.at(hess, (i, i), h)
        np.add.at(hess, (j, j), h)
        np.add.at(hess, (i, j), -h)
        np.add.at(hess, (j, i), -h)
        hess += ridge * np.eye(k)
        if l2 == 0:
            hess += np.ones((k, k)) / k  # curvature along the free constant
        step = np.linalg.solve(hess, grad)
        if l2 == 0:
            step -= step.mean()
        current = log_likelihood(theta, i, j, p, w, l2)
        t = 1.0
        while t > 1e-8 and log_likelihood(theta + t * step, i, j, p, w, l2) < current - 1e-15:
            t *= 0.5
        theta = theta + t * step
        if np.max(np.abs(t * step)) < tol:
            break
    return theta - theta.mean() if l2 == 0 else theta


def ranks_from_strengths(theta, *, decimals: int = 9) -> list[int]:
    """Dense ranks (1 = strongest); strengths equal to ``decimals`` places tie."""
    rounded = np.round(np.asarray(theta, dtype=float), decimals)
    levels = {v: n for n, v in enumerate(sorted(set(rounded.tolist()), reverse=True), start=1)}
    return [levels[v] for v in rounded.tolist()]
