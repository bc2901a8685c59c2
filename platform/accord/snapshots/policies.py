"""Resolution policies: how the votes on a pair become one preference label.

Each policy takes the votes frame of ``accord.snapshots.votes`` (one row per pair × judge,
``value`` = P(response_a ≻ response_b), ``weight``) and returns one row per pair with ``p_a``,
``label_source`` (human | ai | mixed), ``n_labels`` and ``agreement``.

The policies are one registry, ``POLICIES`` (``register_policy``): the CLI help, the API, the
recipe ``snapshot`` step and the docs read it. A policy is which votes count (``keep``),
whether they count as hard sides or soft probabilities (``soft``), and which resolved pairs
are dropped (``drop``):

>>> for policy in POLICIES.values():
...     print(f"{policy.name}: {policy.help}")
human-over-ai: a human label wins; AI labels only where no human label exists
majority: every vote counts once (as a hard a / b / tie)
human-only: only human votes
ai-only: only AI votes
min-agreement: majority, then drop pairs whose votes agree less than min_agreement
soft: keep the weighted mean preference probability as a soft label

Hard policies turn each vote into a side first (> 0.5 → a, < 0.5 → b, = 0.5 → tie), so
``p_a`` is the (weighted) share of votes for side a, ties counting half.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and pandas load when a snapshot is resolved, not with the registry
    import numpy as np
    import pandas as pd


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


@dataclass(frozen=True)
class Policy:
    """A resolution policy.

    ``keep(kind, pair_id)`` gets each vote's kind ("human" | "ai") and pair id (numpy arrays)
    and returns the mask of votes that count (None: all). ``drop(resolved, params)`` gets the
    resolved pairs (columns of ``resolve``) and returns the mask of pairs kept (None: all).
    """

    name: str
    help: str
    keep: Callable[[Any, Any], Any] | None = None
    soft: bool = False
    drop: Callable[[Any, PolicyParams], Any] | None = None


POLICIES: dict[str, Policy] = {}


def register_policy(policy: Policy) -> Policy:
    """Make ``policy`` usable everywhere a policy is named; the same one twice is fine."""
    existing = POLICIES.get(policy.name)
    if existing is not None and existing != policy:
        raise ValueError(f"snapshot policy {policy.name!r} is already registered")
    POLICIES[policy.name] = policy
    return policy


def _human_over_ai(kind, pair_id):
    import numpy as np

    is_h = kind == "human"
    return is_h | ~np.isin(pair_id, pair_id[is_h])


register_policy(
    Policy(
        "human-over-ai",
        "a human label wins; AI labels only where no human label exists",
        keep=_human_over_ai,
    )
)
register_policy(Policy("majority", "every vote counts once (as a hard a / b / tie)"))
register_policy(
    Policy("human-only", "only human votes", keep=lambda kind, pair_id: kind == "human")
)
register_policy(Policy("ai-only", "only AI votes", keep=lambda kind, pair_id: kind == "ai"))
register_policy(
    Policy(
        "min-agreement",
        "majority, then drop pairs whose votes agree less than min_agreement",
        drop=lambda out, params: out.agreement.to_numpy() >= params.min_agreement,
    )
)
register_policy(
    Policy("soft", "keep the weighted mean preference probability as a soft label", soft=True)
)


def _hard(values: pd.Series | np.ndarray) -> np.ndarray:
    import numpy as np

    v = np.asarray(values, dtype=float)
    return np.where(v > 0.5, 1.0, np.where(v < 0.5, 0.0, 0.5))


def resolve(votes: pd.DataFrame, policy: str, params: PolicyParams) -> pd.DataFrame:
    """One row per labelled pair: pair_id, p_a, label_source, n_labels, agreement, weight."""
    import numpy as np
    import pandas as pd

    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    rule = POLICIES[policy]
    cols = ["pair_id", "p_a", "label_source", "n_labels", "agreement", "weight"]
    pair_id = votes.pair_id.to_numpy(np.int64) if len(votes) else np.zeros(0, np.int64)
    is_h = (votes.kind == "human").to_numpy(bool)
    value = votes.value.to_numpy(float)
    weight = votes.weight.to_numpy(float) if "weight" in votes else np.ones(len(votes))
    keep = (
        None if rule.keep is None else np.asarray(rule.keep(votes.kind.to_numpy(), pair_id), bool)
    )
    if keep is not None:
        pair_id, is_h, value, weight = pair_id[keep], is_h[keep], value[keep], weight[keep]
    if len(pair_id) == 0:
        return pd.DataFrame(columns=cols)
    if rule.soft:
        x, w = value, weight * np.where(is_h, params.human_weight, 1.0)
    else:
        x, w = _hard(value), weight
    # Float sums and means through pandas' group-by (compensated summation, as labels have
    # always been computed); counts are exact integers, done with bincount.
    g = pd.DataFrame({"pair_id": pair_id, "wx": x * w, "w": w}).groupby("pair_id", sort=True)
    sums = g.sum()
    ids = sums.index.to_numpy(np.int64)
    code = np.searchsorted(ids, pair_id)
    side = np.where(x > 0.5, 0, np.where(x < 0.5, 1, 2))
    side_counts = np.bincount(code * 3 + side, minlength=3 * len(ids)).reshape(len(ids), 3)
    n_labels = np.bincount(code, minlength=len(ids))
    n_human = np.bincount(code, weights=is_h.astype(float), minlength=len(ids)).astype(np.int64)
    out = pd.DataFrame(
        {
            "pair_id": ids,
            "p_a": (sums.wx / sums.w).to_numpy(),
            "label_source": pd.Series(
                np.where(n_human == n_labels, "human", np.where(n_human == 0, "ai", "mixed")),
                dtype=object,
            ),
            "n_labels": n_labels,
            "agreement": side_counts.max(axis=1) / side_counts.sum(axis=1),
            "weight": g.w.mean().to_numpy(),
        }
    )
    keep_pairs = out.n_labels.to_numpy() >= params.min_labels
    if rule.drop is not None:
        keep_pairs &= np.asarray(rule.drop(out, params), bool)
    return out[keep_pairs].reset_index(drop=True)[cols]
