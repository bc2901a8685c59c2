"""AI label sections of the audit: agreement of AI judges with the human majority (by label
source, judge model, principle and constitution version), calibration of their soft labels,
position consistency (same winner with A and B swapped) and principle-to-principle agreement.

Units are (AI label source, pair) with a human majority to compare with; pooled views (a
judge over all its principles) count a pair once per label source.

>>> import numpy as np
>>> from accord.audit.judges import compare_cells
>>> compare_cells(np.array([[5, 0, 0], [0, 5, 0], [0, 0, 0]]).ravel(), None)["agreement"]["value"]
1.0
"""

from __future__ import annotations

import itertools

import numpy as np

from . import metrics
from .bootstrap import BootstrapConfig, bootstrap_cells
from .calibration import calibration_summary
from .humans import clean, rate
from .views import AuditViews

_NO_CI = BootstrapConfig(n_resamples=0)


def constitution_label(views: AuditViews, content_hash: str) -> str:
    if not content_hash:
        return "(none)"
    return views.data.constitutions.get(content_hash, content_hash[:12])


def principle_label(principle: str) -> str:
    return principle or "(overall)"


def compare_cells(cells: np.ndarray, config: BootstrapConfig | None) -> dict:
    """Agreement and Cohen's kappa of a flattened 3 × 3 confusion (rows: human majority,
    columns: AI label), with intervals."""
    config = config or _NO_CI
    cells = np.asarray(cells, dtype=np.int64)

    def as_matrix(c):
        return c.reshape(c.shape[:-1] + (3, 3))

    return {
        "n": int(cells.sum()),
        "agreement": bootstrap_cells(
            cells, lambda c: metrics.agreement_statistic(as_matrix(c)), config
        ).to_dict(),
        "kappa": bootstrap_cells(
            cells, lambda c: metrics.kappa_statistic(as_matrix(c)), config
        ).to_dict(),
        "confusion": cells.reshape(3, 3).tolist(),
    }


def _grouped_cells(groups: np.ndarray, cells: np.ndarray, n_groups: int) -> np.ndarray:
    return np.bincount(groups * 9 + cells, minlength=n_groups * 9).reshape(n_groups, 9)


def _source_fields(views: AuditViews, source: int) -> dict:
    s = views.data.sources
    return {
        "judge": s.judge[source],
        "principle": principle_label(s.principle[source]),
        "constitution": constitution_label(views, s.constitution_hash[source]),
    }


def _constitution_codes(views: AuditViews) -> tuple[list[str], np.ndarray]:
    hashes, codes = np.unique(
        np.array(views.data.sources.constitution_hash + [""], dtype=object), return_inverse=True
    )
    return [str(h) for h in hashes], codes[:-1]


def human_ai_section(views: AuditViews, config: BootstrapConfig) -> dict:
    ai = views.ai
    m = ai.reference >= 0
    src = ai.source[m]
    cells = ai.reference[m] * 3 + ai.label[m]
    n_sources = len(views.data.sources)
    by_source = []
    per_source = _grouped_cells(src, cells, n_sources)
    for s in np.flatnonzero(per_source.sum(axis=1)):
        by_source.append({**_source_fields(views, s), **compare_cells(per_source[s], config)})

    def pooled(codes_of_source: np.ndarray, names: list[str], key: str) -> list[dict]:
        grouped = _grouped_cells(codes_of_source[src], cells, len(names))
        return [
            {key: names[g], **compare_cells(grouped[g], config)}
            for g in np.flatnonzero(grouped.sum(axis=1))
        ]

    hashes, constitution_of_source = _constitution_codes(views)
    return {
        "n_compared": int(m.sum()),
        "n_without_human_majority": int((~m).sum()),
        "by_source": by_source,
        "by_judge": pooled(views.source_judge, views.judge_names, "judge"),
        "by_principle": pooled(
            views.source_principle, [principle_label(p) for p in views.principles], "principle"
        ),
        "by_constitution": pooled(
            constitution_of_source, [constitution_label(views, h) for h in hashes], "constitution"
        ),
    }


def calibration_section(views: AuditViews, n_bins: int) -> list[dict]:
    """Soft AI labels against the human majority where it prefers a side (ties left out)."""
    ai = views.ai
    m = (ai.reference >= 0) & (ai.reference < 2) & ~np.isnan(ai.prob)
    judge = views.source_judge[ai.source[m]] if m.any() else np.zeros(0, dtype=np.int64)
    outcome = (ai.reference[m] == 0).astype(np.int64)
    prob = ai.prob[m]
    out = []
    for code in np.unique(judge):
        sel = judge == code
        out.append(
            {
                "judge": views.judge_names[code],
                **calibration_summary(outcome[sel], prob[sel], n_bins),
            }
        )
    return out


def position_section(views: AuditViews, config: BootstrapConfig) -> dict:
    """Same canonical winner in both presentation orders, and how often the response shown
    first wins."""
    ai = views.ai
    both = (ai.label_ab >= 0) & (ai.label_ba >= 0)
    src = ai.source[both]
    cells = ai.label_ab[both] * 3 + ai.label_ba[both]
    n_sources = len(views.data.sources)
    decisive_ab = (ai.label_ab >= 0) & (ai.label_ab < 2)
    decisive_ba = (ai.label_ba >= 0) & (ai.label_ba < 2)
    first_wins = (ai.label_ab == 0).astype(np.int64) + (
        ai.label_ba == 1
    )  # per row: 0, 1 or 2 first-shown wins
    decisions = decisive_ab.astype(np.int64) + decisive_ba

    def consistency(c):
        return rate(np.trace(c.reshape(c.shape[:-1] + (3, 3)), axis1=-2, axis2=-1), c.sum(axis=-1))

    def rows(codes_of_source: np.ndarray, label_of, key_fields) -> list[dict]:
        n_groups = len(label_of)
        grouped = _grouped_cells(codes_of_source[src], cells, n_groups)
        group_all = codes_of_source[ai.source] if len(ai.source) else np.zeros(0, dtype=np.int64)
        wins = np.bincount(group_all, weights=first_wins, minlength=n_groups)
        total = np.bincount(group_all, weights=decisions, minlength=n_groups)
        return [
            {
                **key_fields(g),
                "n_pairs": int(grouped[g].sum()),
                "consistency": bootstrap_cells(grouped[g], consistency, config).to_dict(),
                "first_position_wins": clean(rate(wins[g : g + 1], total[g : g + 1])[0]),
                "n_decisions": int(total[g]),
            }
            for g in np.flatnonzero(grouped.sum(axis=1))
        ]

    return {
        "by_source": rows(
            np.arange(n_sources), range(n_sources), lambda s: _source_fields(views, s)
        ),
        "by_judge": rows(
            views.source_judge, views.judge_names, lambda g: {"judge": views.judge_names[g]}
        ),
    }


def principle_agreement_section(views: AuditViews) -> list[dict]:
    """For each judge and constitution with several principles: agreement and kappa between
    every two principles' final labels on the pairs both labeled."""
    ai = views.ai
    s = views.data.sources
    hashes, constitution_of_source = _constitution_codes(views)
    out = []
    group_of_source = views.source_judge * len(hashes) + constitution_of_source
    ai_sources = np.unique(ai.source)
    for group in np.unique(group_of_source[ai_sources]):
        members = ai_sources[group_of_source[ai_sources] == group]
        if len(members) < 2:
            continue
        members = members[np.argsort([s.principle[m] for m in members])]
        n_pairs = len(views.data.pair_ids)
        labels = np.full((len(members), n_pairs), -1, dtype=np.int64)
        for i, member in enumerate(members):
            sel = ai.source == member
            labels[i, ai.pair[sel]] = ai.label[sel]
        k = len(members)
        agreement = np.full((k, k), np.nan)
        kappa = np.full((k, k), np.nan)
        counts = np.zeros((k, k), dtype=np.int64)
        for i, j in itertools.product(range(k), repeat=2):
            both = (labels[i] >= 0) & (labels[j] >= 0)
            counts[i, j] = both.sum()
            if counts[i, j]:
                confusion = metrics.confusion_counts(labels[i, both], labels[j, both], 3)
                agreement[i, j] = metrics.agreement_statistic(confusion)
                kappa[i, j] = metrics.kappa_statistic(confusion)
        out.append(
            {
                "judge": s.judge[members[0]],
                "constitution": constitution_label(views, s.constitution_hash[members[0]]),
                "principles": [principle_label(s.principle[m]) for m in members],
                "agreement": [[clean(x) for x in row] for row in agreement],
                "kappa": [[clean(x) for x in row] for row in kappa],
                "n": counts.tolist(),
            }
        )
    return out
