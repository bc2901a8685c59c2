"""Plackett–Luce strengths from soft listwise readings, by maximum likelihood.

Under Plackett–Luce an order of K items is drawn position by position: the first item is i
with probability exp(θ_i) / Σ_j exp(θ_j), then it is removed and the next one is drawn from
the rest the same way. A listwise judge gives, at each position of its answer, a distribution
q over the items not yet named (the log-probs of their labels, renormalised over them). The
strengths that best explain every such reading maximise

    L(θ) = Σ_stages Σ_{i ∈ R} q(i) · [θ_i − log Σ_{j ∈ R} exp(θ_j)]  − ½ · l2 · |θ|²

(R: the items still open at that stage): a sum of softmax log-likelihoods with soft targets,
concave in θ; Newton's method with a backtracking line search finds the maximum. A stage
with one item says nothing and is skipped. Strengths are defined up to a constant and are
returned with mean 0 (without ``l2``). Two items and one stage give θ_a − θ_b = log(q_a / q_b):
Bradley–Terry's answer for the same soft label.

>>> import numpy as np
>>> theta = np.array([1.0, 0.0, -1.0])
>>> first = np.exp(theta) / np.exp(theta).sum()
>>> np.round(fit_plackett_luce(3, [([0, 1, 2], first.tolist())]), 6).tolist()
[1.0, 0.0, -1.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# Stage probabilities are floored here: a label the judge gave (numerically) zero probability
# would otherwise push its strength towards −∞.
MIN_PROB = 1e-12


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.logaddexp.reduce(x)


def log_likelihood(theta: np.ndarray, stages, l2: float = 0.0) -> float:
    total = sum(float(np.dot(q, _log_softmax(theta[items]))) for items, q in stages)
    return total - 0.5 * l2 * float(np.sum(theta**2))


def _connected(k: int, rows) -> bool:
    parent = list(range(k))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for items, _ in rows:
        for other in items[1:].tolist():
            parent[root(other)] = root(int(items[0]))
    return len({root(x) for x in range(k)}) == 1


def _stages(
    k: int, stages: Iterable[tuple[Sequence[int], Sequence[float]]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for n, (items, probs) in enumerate(stages):
        items = np.asarray(list(items), dtype=np.int64)
        q = np.asarray(list(probs), dtype=float)
        if items.ndim != 1 or q.shape != items.shape:
            raise ValueError(f"stage {n}: one probability per item expected")
        if len(set(items.tolist())) != len(items) or ((items < 0) | (items >= k)).any():
            raise ValueError(f"stage {n}: items must be different and within 0..{k - 1}")
        if not np.isfinite(q).all() or (q < 0).any() or q.sum() <= 0:
            raise ValueError(f"stage {n}: probabilities must be finite, ≥ 0 and not all 0")
        if len(items) < 2:
            continue
        q = np.maximum(q / q.sum(), MIN_PROB)
        out.append((items, q / q.sum()))
    return out


def fit_plackett_luce(
    k: int,
    stages: Iterable[tuple[Sequence[int], Sequence[float]]],
    *,
    l2: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> np.ndarray:
    """Maximum-likelihood strengths θ of ``k`` items from ``(items, probabilities)`` stages:
    at that stage the judge named ``items[n]`` next with probability ``probabilities[n]``."""
    if k < 2:
        raise ValueError(f"Plackett–Luce needs at least 2 items, got {k}")
    if l2 < 0:
        raise ValueError(f"l2 must be ≥ 0, got {l2}")
    rows = _stages(k, stages)
    if not rows:
        raise ValueError("Plackett–Luce needs at least one stage with two or more items")
    if l2 == 0 and not _connected(k, rows):
        raise ValueError("the stages do not connect all items: no finite maximum (pass l2 > 0)")
    theta = np.zeros(k)
    for _ in range(max_iter):
        grad = -l2 * theta
        hess = (l2 + 1e-12) * np.eye(k)
        for items, q in rows:
            p = np.exp(_log_softmax(theta[items]))
            grad[items] += q - p
            hess[np.ix_(items, items)] += np.diag(p) - np.outer(p, p)
        if l2 == 0:
            hess += np.ones((k, k)) / k  # curvature along the free constant
        step = np.linalg.solve(hess, grad)
        if l2 == 0:
            step -= step.mean()
        current = log_likelihood(theta, rows, l2)
        t = 1.0
        while t > 1e-8 and log_likelihood(theta + t * step, rows, l2) < current - 1e-15:
            t *= 0.5
        theta = theta + t * step
        if np.max(np.abs(t * step)) < tol:
            break
    return theta - theta.mean() if l2 == 0 else theta
