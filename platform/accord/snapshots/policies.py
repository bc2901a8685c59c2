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
escalate: human labels; AI labels only above a certified threshold (params target, delta)
dawid-skene: posterior P(a) under a Dawid-Skene model of the annotators, as a soft label

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
    # Trust-layer options, recorded in the snapshot params only when set (hashes of snapshots
    # built without them stay as they were):
    calibration: int | None = None  # id of a stored calibration applied to its judge's AI votes
    target: float | None = None  # escalate: agreement with humans the kept AI labels must reach
    delta: float | None = None  # escalate: allowed probability that the promise fails

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
        if self.calibration is not None and (
            isinstance(self.calibration, bool)
            or not isinstance(self.calibration, int)
            or self.calibration < 1
        ):
            raise ValueError(
                f"calibration must be a calibration id (an integer ≥ 1), got {self.calibration!r}"
            )
        for name in ("target", "delta"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0.0 < value < 1.0
            ):
                raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")

    def recorded(self) -> dict[str, Any]:
        """The params as recorded in a snapshot (and its content hash): unset trust options
        are left out."""
        from dataclasses import asdict

        out = asdict(self)
        for name in _OPTIONAL_RECORDED:
            if out[name] is None:
                del out[name]
        return out


_OPTIONAL_RECORDED = ("calibration", "target", "delta")


@dataclass(frozen=True)
class Policy:
    """A resolution policy.

    ``keep(kind, pair_id)`` gets each vote's kind ("human" | "ai") and pair id (numpy arrays)
    and returns the mask of votes that count (None: all). ``drop(resolved, params)`` gets the
    resolved pairs (columns of ``resolve``) and returns the mask of pairs kept (None: all).
    ``prepare(engine, votes, params)`` (optional) runs on the votes first and returns the
    votes to resolve and the manifest sections it adds (e.g. ``{"escalation": {...}}``).
    ``needs`` names the ``PolicyParams`` fields that must be set; ``human_details``: the
    policy reads who cast each human vote (the votes' ``judge``).
    """

    name: str
    help: str
    keep: Callable[[Any, Any], Any] | None = None
    soft: bool = False
    drop: Callable[[Any, PolicyParams], Any] | None = None
    prepare: Callable[[Any, Any, PolicyParams], tuple[Any, dict[str, Any]]] | None = None
    needs: tuple[str, ...] = ()
    human_details: bool = False


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


def _escalate(engine, votes, params):
    from .escalate_policy import escalate_votes

    return escalate_votes(engine, votes, params)


def _dawid_skene(engine, votes, params):
    from .dawid_skene_policy import dawid_skene_votes

    return dawid_skene_votes(engine, votes, params)


register_policy(
    Policy(
        "escalate",
        "human labels; AI labels only above a certified threshold (params target, delta)",
        keep=_human_over_ai,
        prepare=_escalate,
        needs=("target", "delta"),
    )
)
register_policy(
    Policy(
        "dawid-skene",
        "posterior P(a) under a Dawid-Skene model of the annotators, as a soft label",
        keep=lambda kind, pair_id: kind == "human",
        soft=True,
        prepare=_dawid_skene,
        human_details=True,
    )
)


def policy_problems(policy: str, params: PolicyParams) -> list[tuple[str, str]]:
    """(field, message) for each way ``params`` do not fit ``policy`` (empty: they fit)."""
    if policy not in POLICIES:
        return [("policy", f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")]
    rule = POLICIES[policy]
    problems = [
        (name, f"the {policy!r} policy needs {name} (e.g. target 0.85, delta 0.1)")
        for name in rule.needs
        if getattr(params, name) is None
    ]
    problems += [
        (name, f"{name} is an option of the escalate policy, not of {policy!r}")
        for name in ("target", "delta")
        if getattr(params, name) is not None and name not in rule.needs
    ]
    return problems


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
