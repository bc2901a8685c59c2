"""Rank agreement: how much rankings of the same K responses agree, between annotators and
between annotators and AI judges.

A ranked item is one prompt with one set of K responses (``Ranking.group_key``); every ranker
of the same responses ranked the same item.

- **Kendall's τ-b** (ties allowed, as ``scipy.stats.kendalltau``'s default variant) between
  two rankings of one item; per item the mean over its pairs of rankers, overall the mean over
  all pairs of rankers.
- **Krippendorff's α on the ordinal level** (``accord.audit.metrics``): each response of an
  item is a unit, each human ranker a rater, the (dense) rank the value.

Units of the intervals are ranked items: the bootstrap resamples items with all their
rankings, so the (K choose 2) comparisons of one ranking, and the responses of one item, move
together and are never counted as independent votes. The pairwise sections of the audit see
the judgments a ranking expanded into as labels of their pairs (agreement on a pair is still
agreement on that pair); their human–human intervals resample the pairs of one ranked item
together (``accord.audit.humans``).

>>> kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4])
0.6666666666666666
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from . import metrics
from .bootstrap import BootstrapConfig, bootstrap_kinds
from .loader import AuditScope, scope_condition


def kendall_tau_b(x, y) -> float:
    """Kendall's τ-b of two rankings of the same items (NaN when either is all ties)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("kendall_tau_b needs two rankings of the same items")
    i, j = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    s = float(np.sum(dx * dy))
    pairs_x, pairs_y = float(np.sum(dx != 0)), float(np.sum(dy != 0))
    if pairs_x == 0 or pairs_y == 0:
        return float("nan")
    return s / math.sqrt(pairs_x * pairs_y)


@dataclass(frozen=True)
class StoredRanking:
    id: int
    group_key: str
    kind: str
    rater: str  # the annotator, or the AI judge with principle, method and constitution
    response_ids: tuple[int, ...]
    ranks: tuple[int, ...]

    def ranks_of(self, response_ids) -> list[int]:
        by_id = dict(zip(self.response_ids, self.ranks))
        return [by_id[r] for r in response_ids]


def load_rankings(engine: Engine, scope: AuditScope | None = None) -> list[StoredRanking]:
    """The submitted rankings of ``scope`` (those with an expanded judgment on its pairs)."""
    import json

    scope = scope or AuditScope()
    where, params = scope_condition(scope, "j.pair_id")
    sql = (
        "SELECT r.id, r.group_key, r.kind, r.judge, r.principle, r.constitution_hash, "
        "r.response_ids, r.ranks, r.method FROM ranking r WHERE r.status = 'submitted' AND r.id IN "
        f"(SELECT j.ranking_id FROM judgment j WHERE j.ranking_id IS NOT NULL{where}) "
        "ORDER BY r.id"
    )
    out = []
    with engine.connect() as conn:
        for row in conn.execute(text(sql), params).all():
            rid, group, kind, judge, principle, chash, ids, ranks, method = row
            ids = json.loads(ids) if isinstance(ids, str) else ids
            ranks = json.loads(ranks) if isinstance(ranks, str) else ranks
            rater = judge if kind == "human" else _ai_rater(judge, principle, chash, method)
            out.append(StoredRanking(rid, group, kind, rater, tuple(ids), tuple(ranks)))
    return out


def _ai_rater(judge: str, principle: str, constitution_hash: str, method: str = "") -> str:
    parts = [judge] + ([principle] if principle else []) + ([method] if method else [])
    return " / ".join(parts) + (f" @{constitution_hash[:8]}" if constitution_hash else "")


def _by_item(rankings: list[StoredRanking]) -> dict[str, list[StoredRanking]]:
    items: dict[str, list[StoredRanking]] = defaultdict(list)
    for r in rankings:
        items[r.group_key].append(r)
    return dict(sorted(items.items()))


def _tau_features(pairs_per_item: list[list[float]]) -> np.ndarray:
    """Per item: (sum of τ over its rating pairs, number of pairs), NaN τs left out."""
    feats = []
    for taus in pairs_per_item:
        finite = [t for t in taus if not math.isnan(t)]
        feats.append((sum(finite), len(finite)))
    return np.asarray(feats, dtype=float).reshape(-1, 2)


def _ratio_estimate(features: np.ndarray, config: BootstrapConfig) -> dict[str, Any]:
    features = features[features[:, 1] > 0] if len(features) else features

    def statistic(sums: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums[..., 0] / sums[..., 1]

    return bootstrap_kinds(
        np.ones(len(features), dtype=np.int64), features.reshape(-1, 2), statistic, config
    ).to_dict()


def human_tau(items: dict[str, list[StoredRanking]], config: BootstrapConfig) -> dict[str, Any]:
    """Mean Kendall's τ-b over the pairs of human rankers of the same item."""
    per_item = []
    for rankings in items.values():
        humans = [r for r in rankings if r.kind == "human"]
        if len(humans) < 2:
            continue
        ids = humans[0].response_ids
        per_item.append(
            [kendall_tau_b(a.ranks_of(ids), b.ranks_of(ids)) for a, b in combinations(humans, 2)]
        )
    features = _tau_features(per_item)
    return {
        **_ratio_estimate(features, config),
        "n_rater_pairs": int(features[:, 1].sum()) if len(features) else 0,
    }


def reliability_matrix(items: dict[str, list[StoredRanking]]) -> tuple[np.ndarray, np.ndarray]:
    """Human raters × units (one unit per response of a ranked item) of ranks, NaN missing
    (the ``krippendorff`` package's input), and the item index of each unit."""
    raters = sorted({r.rater for rs in items.values() for r in rs if r.kind == "human"})
    row = {name: n for n, name in enumerate(raters)}
    columns, unit_item = [], []
    for n, rankings in enumerate(items.values()):
        humans = [r for r in rankings if r.kind == "human"]
        if len(humans) < 2:
            continue
        for rid in humans[0].response_ids:
            col = np.full(len(raters), np.nan)
            for r in humans:
                col[row[r.rater]] = r.ranks_of([rid])[0]
            columns.append(col)
            unit_item.append(n)
    if not columns:
        return np.zeros((len(raters), 0)), np.zeros(0, dtype=np.int64)
    return np.stack(columns, axis=1), np.asarray(unit_item, dtype=np.int64)


def ordinal_alpha(
    items: dict[str, list[StoredRanking]], config: BootstrapConfig
) -> dict[str, Any] | None:
    """Krippendorff's α (ordinal) of the human ranks, resampling ranked items."""
    data, unit_item = reliability_matrix(items)
    if data.shape[1] == 0:
        return None
    try:
        vc, domain = metrics.alpha_inputs(data, level_of_measurement="ordinal")
    except ValueError:
        return None
    contributions = metrics.coincidence_contributions(vc)  # per unit
    # one feature row per ranked item: the sum of its units' coincidences
    _, item_index = np.unique(unit_item, return_inverse=True)
    per_item = np.zeros((item_index.max() + 1, *contributions.shape[1:]))
    np.add.at(per_item, item_index, contributions)
    estimate = bootstrap_kinds(
        np.ones(len(per_item), dtype=np.int64),
        per_item,
        lambda o: metrics.alpha_statistic(o, domain, "ordinal"),
        config,
    ).to_dict()
    return {**estimate, "n_units": int(data.shape[1]), "n_items": int(len(per_item))}


def human_ai_tau(
    items: dict[str, list[StoredRanking]], config: BootstrapConfig
) -> list[dict[str, Any]]:
    """Per AI judge: mean Kendall's τ-b between its ranking and each human ranking of an item."""
    judges = sorted({r.rater for rs in items.values() for r in rs if r.kind == "ai"})
    out = []
    for judge in judges:
        per_item = []
        for rankings in items.values():
            humans = [r for r in rankings if r.kind == "human"]
            ais = [r for r in rankings if r.kind == "ai" and r.rater == judge]
            if not humans or not ais:
                continue
            ids = humans[0].response_ids
            per_item.append(
                [kendall_tau_b(h.ranks_of(ids), a.ranks_of(ids)) for h in humans for a in ais]
            )
        if not per_item:
            continue
        features = _tau_features(per_item)
        out.append(
            {
                "judge": judge,
                "kendall_tau_b": _ratio_estimate(features, config),
                "n_items": len(per_item),
                "n_comparisons": int(features[:, 1].sum()),
            }
        )
    return out


def rank_agreement_section(
    engine: Engine, scope: AuditScope | None, config: BootstrapConfig
) -> dict[str, Any]:
    """The audit's ``rankings`` section (empty when the scope has no rankings)."""
    rankings = load_rankings(engine, scope)
    if not rankings:
        return {}
    items = _by_item(rankings)
    where, params = scope_condition(scope or AuditScope(), "j.pair_id")
    with engine.connect() as conn:
        expanded = conn.execute(
            text(
                "SELECT COUNT(*) FROM judgment j WHERE j.ranking_id IS NOT NULL"
                f" AND j.status = 'submitted'{where}"
            ),
            params,
        ).scalar_one()
    kinds = [r.kind for r in rankings]
    return {
        "n_rankings": {"human": kinds.count("human"), "ai": kinds.count("ai")},
        "n_items": len(items),
        "n_items_multi_human": sum(
            sum(r.kind == "human" for r in rs) >= 2 for rs in items.values()
        ),
        "expanded_judgments": int(expanded),
        "human_human": {
            "kendall_tau_b": human_tau(items, config),
            "krippendorff_alpha_ordinal": ordinal_alpha(items, config),
        },
        "human_ai": human_ai_tau(items, config),
        "unit": "ranked item (a prompt and its K responses)",
    }
