"""Audit figures the snapshot builder uses: per-annotator reliability (to exclude
unreliable annotators), human agreement of each AI principle (to weight or drop its labels),
and a small summary recorded in the snapshot manifest.

>>> from accord.store.db import open_store
>>> engine = open_store("sqlite://")
>>> annotator_reliability(engine), principle_human_agreement(engine)
({}, {})
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sqlalchemy.engine import Engine

from . import metrics
from .bootstrap import BootstrapConfig
from .humans import annotator_section, clean, human_human_section
from .judges import position_section
from .loader import AuditData, AuditScope, load_audit_data
from .views import AuditViews

Measure = Literal["agreement", "kappa", "gold"]
_MEASURE_FIELDS = {
    "agreement": ("agreement", "n_overlap"),
    "kappa": ("kappa", "n_overlap"),
    "gold": ("gold_agreement", "n_gold_items"),
}
_NO_CI = BootstrapConfig(n_resamples=0)


def _data(
    engine: Engine, scope: AuditScope | None, data: AuditData | None, pair_ids=None
) -> AuditData:
    data = data if data is not None else load_audit_data(engine, scope)
    return data.restrict(pair_ids) if pair_ids is not None else data


def annotator_reliability(
    engine: Engine,
    *,
    scope: AuditScope | None = None,
    measure: Measure = "agreement",
    min_items: int = 1,
    data: AuditData | None = None,
) -> dict[int, float]:
    """annotator id → reliability in [0, 1] (kappa may be negative).

    ``agreement``: share of agreeing label pairs with the other annotators on shared items;
    ``kappa``: the same, chance-corrected; ``gold``: agreement with the gold annotators'
    majority. Annotators with fewer than ``min_items`` measurable items are left out: absent
    means "not measured", not "unreliable".
    """
    if measure not in _MEASURE_FIELDS:
        raise ValueError(f"measure must be one of {tuple(_MEASURE_FIELDS)}, not {measure!r}")
    value_field, n_field = _MEASURE_FIELDS[measure]
    rows = annotator_section(AuditViews.build(_data(engine, scope, data)))
    return {
        r["annotator_id"]: r[value_field]
        for r in rows
        if r["annotator_id"] is not None
        and r[value_field] is not None
        and r[n_field] >= max(min_items, 1)
    }


def _principle_cells(views: AuditViews) -> dict[tuple[str, str], np.ndarray]:
    ai = views.ai
    m = ai.reference >= 0
    s = views.data.sources
    out: dict[tuple[str, str], np.ndarray] = {}
    if not m.any():
        return out
    hashes = np.array(s.constitution_hash, dtype=object)[ai.source[m]]
    principles = np.array(s.principle, dtype=object)[ai.source[m]]
    keys, group = np.unique(
        np.char.add(hashes.astype(str), np.char.add("\x1f", principles.astype(str))),
        return_inverse=True,
    )
    cells = np.bincount(
        group * 9 + ai.reference[m] * 3 + ai.label[m], minlength=len(keys) * 9
    ).reshape(-1, 3, 3)
    for key, confusion in zip(keys, cells):
        chash, principle = str(key).split("\x1f", 1)
        out[(chash, principle)] = confusion
    return out


def principle_human_agreement(
    engine: Engine, *, scope: AuditScope | None = None, data: AuditData | None = None
) -> dict[tuple[str, str], float]:
    """(constitution hash, principle) → share of AI labels of that principle (all judge
    models) that match the human majority on the same pairs."""
    cells = _principle_cells(AuditViews.build(_data(engine, scope, data)))
    return {key: float(metrics.agreement_statistic(c)) for key, c in cells.items() if c.sum()}


def audit_summary_for_manifest(
    engine: Engine, *, scope: AuditScope | None = None, pair_ids=None, data: AuditData | None = None
) -> dict[str, Any]:
    """A small JSON dict of the audit figures on the given pairs (all of the scope if None)."""
    data = _data(engine, scope, data, pair_ids)
    views = AuditViews.build(data)
    hh = human_human_section(views, _NO_CI)
    annotators = annotator_section(views)
    agreements = [r["agreement"] for r in annotators if r["agreement"] is not None]
    position = position_section(views, _NO_CI)["by_judge"]
    return {
        "pairs": len(data.pair_ids),
        "judgments": len(data.label),
        "human_human": {
            "alpha": hh["alpha"]["value"],
            "agreement": hh["agreement"]["value"],
            "n_units": hh["n_units_multi"],
        },
        "human_ai": [
            {
                "constitution_hash": chash,
                "principle": principle,
                "n": int(c.sum()),
                "agreement": clean(metrics.agreement_statistic(c)),
                "kappa": clean(metrics.kappa_statistic(c)),
            }
            for (chash, principle), c in sorted(_principle_cells(views).items())
        ],
        "annotators": {
            "measured": len(agreements),
            "median_agreement": clean(np.median(agreements)) if agreements else None,
        },
        "position_consistency": {r["judge"]: r["consistency"]["value"] for r in position},
    }
