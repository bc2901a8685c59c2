"""Resolution policies: how the votes on a pair become one preference label.

Each policy takes the votes frame of ``accord.snapshots.votes`` (one row per pair × judge,
``value`` = P(response_a ≻ response_b), ``weight``) and returns one row per pair with ``p_a``,
``label_source`` (human | ai | mixed), ``n_labels`` and ``agreement``.

- ``human-over-ai``: a human label wins; AI labels only where no human label exists.
- ``majority``: every vote counts once (as a hard a / b / tie).
- ``human-only`` / ``ai-only``: only that source's votes.
- ``min-agreement``: majority, then drop pairs whose votes agree less than ``min_agreement``.
- ``soft``: keep the weighted mean preference probability as a soft label.

Hard policies turn each vote into a side first (> 0.5 → a, < 0.5 → b, = 0.5 → tie), so
``p_a`` is the (weighted) share of votes for side a, ties counting half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

POLICIES = ("human-over-ai", "majority", "human-only", "ai-only", "min-agreement", "soft")


@dataclass(frozen=True)
class PolicyParams:
    """Options of a policy (recorded in the snapshot manifest)."""

    keep_ties: bool = False
    tie_band: float = 0.0  # |p_a - 0.5| <= tie_band is a tie
    min_agreement: float = 0.75  # min-agreement: share of votes on the winning side
    min_labels: int = 1
    human_weight: float = 1.0  # soft: weight of a human vote relative to an AI vote
    # Audit-aware options (figures come from accord.audit and go into the manifest):
    min_annotator_reliability: float | None = None
    min_principle_agreement: float | None = None
    low_agreement_ai: str = "drop"  # drop | weight

    def __post_init__(self) -> None:
        if not 0.0 <= self.tie_band < 0.5:
            raise ValueError("tie_band must be in [0, 0.5)")
        if not 0.0 < self.min_agreement <= 1.0:
            raise ValueError("min_agreement must be in (0, 1]")
        if self.min_labels < 1:
            raise ValueError("min_labels must be at least 1")
        if self.human_weight <= 0:
            raise ValueError("human_weight must be positive")
        if self.low_agreement_ai not in ("drop", "weight"):
            raise ValueError("low_agreement_ai must be 'drop' or 'weight'")


def _hard(values: pd.Series) -> np.ndarray:
    v = values.to_numpy(dtype=float)
    return np.where(v > 0.5, 1.0, np.where(v < 0.5, 0.0, 0.5))


def resolve(votes: pd.DataFrame, policy: str, params: PolicyParams) -> pd.DataFrame:
    """One row per labelled pair: pair_id, p_a, label_source, n_labels, agreement, weight."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    v = votes.copy()
    if "weight" not in v:
        v["weight"] = 1.0
    if policy == "human-only":
        v = v[v.kind == "human"]
    elif policy == "ai-only":
        v = v[v.kind == "ai"]
    elif policy == "human-over-ai":
        has_human = v[v.kind == "human"].pair_id.unique()
        v = v[(v.kind == "human") | ~v.pair_id.isin(has_human)]
    cols = ["pair_id", "p_a", "label_source", "n_labels", "agreement", "weight"]
    if v.empty:
        return pd.DataFrame(columns=cols)
    if policy == "soft":
        w = v.weight.to_numpy(float) * np.where(v.kind.to_numpy() == "human", params.human_weight, 1.0)
        v = v.assign(x=v.value.to_numpy(float), w=w)
    else:
        v = v.assign(x=_hard(v.value), w=v.weight.to_numpy(float))
    v = v.assign(wx=v.x * v.w, is_h=(v.kind == "human").astype(int),
                 side=np.where(v.x > 0.5, "a", np.where(v.x < 0.5, "b", "tie")))
    g = v.groupby("pair_id")
    out = pd.DataFrame({
        "p_a": g.wx.sum() / g.w.sum(),
        "n_labels": g.size(),
        "n_human": g.is_h.sum(),
        "weight": g.w.mean(),
    })
    side_counts = v.groupby(["pair_id", "side"]).size().unstack(fill_value=0)
    out["agreement"] = (side_counts.max(axis=1) / side_counts.sum(axis=1)).reindex(out.index)
    out["label_source"] = np.where(out.n_human == out.n_labels, "human",
                                   np.where(out.n_human == 0, "ai", "mixed"))
    out = out[out.n_labels >= params.min_labels]
    if policy == "min-agreement":
        out = out[out.agreement >= params.min_agreement]
    return out.reset_index()[cols]
