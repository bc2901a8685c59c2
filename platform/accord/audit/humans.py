"""Human label sections of the audit: how much humans agree with each other (with bootstrap
intervals) and how reliable each annotator is (agreement with the others on shared items,
chance-corrected, and agreement with gold annotators where there are gold labels).

>>> import numpy as np
>>> from accord.audit.humans import rate
>>> float(rate(np.array([3.0]), np.array([4.0]))[0])
0.75
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import metrics
from .bootstrap import BootstrapConfig, bootstrap_kinds, unit_kinds
from .views import NO_LABEL, AuditViews, strict_majority

LABEL_NAMES = ("a", "b", "tie")
_NOMINAL = np.arange(3)


def rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def clean(x: Any, digits: int = 6) -> float | None:
    """A JSON-ready number: None for NaN."""
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else round(x, digits)


def alpha_estimate(value_counts: np.ndarray, config: BootstrapConfig) -> dict:
    """Nominal Krippendorff's alpha of units × (a, b, tie) counts with its interval."""
    vc = value_counts[value_counts.sum(axis=1) >= 2]
    kinds, counts = unit_kinds(vc) if len(vc) else (np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    return bootstrap_kinds(
        counts,
        metrics.coincidence_contributions(kinds),
        lambda o: metrics.alpha_statistic(o, _NOMINAL, "nominal"),
        config,
    ).to_dict()


def agreement_estimate(value_counts: np.ndarray, config: BootstrapConfig) -> dict:
    """Share of agreeing rating pairs within units, with its interval."""
    vc = value_counts[value_counts.sum(axis=1) >= 2]
    kinds, counts = unit_kinds(vc) if len(vc) else (np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    agree, pairs = metrics.pairwise_agreement_parts(kinds)
    return bootstrap_kinds(
        counts,
        np.stack([agree, pairs], axis=-1).reshape(-1, 2),
        lambda s: rate(s[..., 0], s[..., 1]),
        config,
    ).to_dict()


def fleiss_estimate(value_counts: np.ndarray, config: BootstrapConfig) -> dict | None:
    """Fleiss' kappa on the units with the most common number of ratings (Fleiss' design
    needs equal counts); None when fewer than two such units exist."""
    m = value_counts.sum(axis=1)
    m = m[m >= 2]
    if len(m) == 0:
        return None
    modal = int(np.bincount(m).argmax())
    table = value_counts[value_counts.sum(axis=1) == modal]
    if len(table) < 2:
        return None
    kinds, counts = unit_kinds(table)
    per_kind, _ = metrics.fleiss_unit_agreement(kinds)
    features = np.concatenate([np.ones((len(kinds), 1)), per_kind[:, None], kinds], axis=1)
    est = bootstrap_kinds(
        counts,
        features,
        lambda s: metrics.fleiss_statistic(s[..., 0], s[..., 1], s[..., 2:], modal),
        config,
    ).to_dict()
    return {**est, "raters_per_unit": modal}


def human_human_section(views: AuditViews, config: BootstrapConfig) -> dict:
    h = views.human
    m = h.n_ratings
    by_principle = []
    if len(np.unique(h.unit_principle)) > 1:
        for code in np.unique(h.unit_principle):
            vc = h.value_counts[h.unit_principle == code]
            by_principle.append(
                {
                    "principle": views.principles[code] or "(overall)",
                    "n_units": int((vc.sum(axis=1) >= 2).sum()),
                    "alpha": alpha_estimate(vc, config),
                    "agreement": agreement_estimate(vc, config),
                }
            )
    labels = np.bincount(h.rating_label, minlength=3)
    return {
        "n_ratings": len(h.rating_label),
        "n_raters": len(h.rater_keys),
        "n_units": len(m),
        "n_units_multi": int((m >= 2).sum()),
        "ratings_per_unit": {str(k): int(v) for k, v in enumerate(np.bincount(m)) if v and k},
        "label_shares": {n: clean(c / max(labels.sum(), 1)) for n, c in zip(LABEL_NAMES, labels)},
        "alpha": alpha_estimate(h.value_counts, config),
        "agreement": agreement_estimate(h.value_counts, config),
        "fleiss_kappa": fleiss_estimate(h.value_counts, config),
        "by_principle": by_principle,
    }


def _gold_ratings(views: AuditViews) -> np.ndarray:
    data, h = views.data, views.human
    aid = data.sources.annotator_id[h.rating_source] if len(h.rating_source) else np.zeros(0, int)
    gold_ids = np.array([i for i, a in data.annotators.items() if a["is_gold"]], dtype=np.int64)
    return np.isin(aid, gold_ids)


def annotator_section(views: AuditViews) -> list[dict]:
    """Per annotator: labels, agreement with the others on shared units (raw and
    chance-corrected), agreement with the gold majority, tie rate, longer-response wins."""
    data, h = views.data, views.human
    n_raters = len(h.rater_keys)
    if n_raters == 0:
        return []
    rater, unit, label = h.rating_rater, h.rating_unit, h.rating_label
    own = np.eye(3, dtype=np.int64)[label]
    others = h.value_counts[unit] - own  # the other raters' labels on the unit
    n_others = others.sum(axis=1)
    overlap = n_others > 0

    def per_rater(weights) -> np.ndarray:
        return np.bincount(rater, weights=weights, minlength=n_raters)

    n_overlap = per_rater(overlap)
    agree = per_rater(others[np.arange(len(label)), label])
    pairs = per_rater(n_others)
    p_o = rate(agree, pairs)
    p_e = np.zeros(n_raters)
    for k in range(3):
        p_e += rate(per_rater(overlap & (label == k)), n_overlap) * rate(
            per_rater(others[:, k]), pairs
        )
    kappa = rate(p_o - p_e, 1.0 - p_e)

    is_gold = _gold_ratings(views)
    gold_counts = np.bincount(
        unit[is_gold] * 3 + label[is_gold], minlength=len(h.unit_pair) * 3
    ).reshape(-1, 3)
    gold_others = gold_counts[unit] - own * is_gold[:, None]
    gold_major = strict_majority(gold_others)
    has_gold = gold_major != NO_LABEL
    n_gold = per_rater(has_gold)
    gold_agree = per_rater(has_gold & (gold_major == label))

    len_a, len_b = data.len_a[h.rating_pair], data.len_b[h.rating_pair]
    decisive = (label < 2) & (len_a != len_b)
    longer = decisive & ((label == 0) == (len_a > len_b))

    n_labels = per_rater(np.ones(len(label)))
    first_source = np.full(n_raters, -1)
    first_source[rater[::-1]] = h.rating_source[::-1]
    rater_gold = per_rater(is_gold) > 0
    gold_rate = rate(gold_agree, n_gold)
    tie_rate = rate(per_rater(label == 2), n_labels)
    longer_rate = rate(per_rater(longer), per_rater(decisive))
    rows = []
    for r in range(n_raters):
        aid = int(data.sources.annotator_id[first_source[r]])
        rows.append(
            {
                "annotator_id": aid if aid >= 0 else None,
                "username": views.judge_names[h.rater_keys[r]],
                "is_gold": bool(rater_gold[r]),
                "n_labels": int(n_labels[r]),
                "n_overlap": int(n_overlap[r]),
                "agreement": clean(p_o[r]),
                "kappa": clean(kappa[r]),
                "n_gold_items": int(n_gold[r]),
                "gold_agreement": clean(gold_rate[r]),
                "tie_rate": clean(tie_rate[r]),
                "longer_wins": clean(longer_rate[r]),
            }
        )
    return rows
