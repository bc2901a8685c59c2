"""Length bias of each label source (how often the longer response wins) and reward-model
held-out accuracy of the training runs that used the audited pairs.

A source without length bias picks the longer response about as often as the human majority
does on the same pairs; the report shows both so the gap is visible.

>>> import numpy as np
>>> longer_win_cells(np.array([0, 1, 2]), np.array([10, 10, 10]), np.array([5, 5, 5])).tolist()
[1, 1]
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from .bootstrap import BootstrapConfig, bootstrap_cells
from .humans import clean, rate
from .judges import principle_label
from .loader import AuditScope, scope_condition
from .views import AuditViews


def longer_win_cells(labels: np.ndarray, len_a: np.ndarray, len_b: np.ndarray) -> np.ndarray:
    """[shorter wins, longer wins] over decisive labels (a or b) on pairs of unequal length."""
    decisive = (labels >= 0) & (labels < 2) & (len_a != len_b)
    longer = decisive & ((labels == 0) == (len_a > len_b))
    return np.array([int(decisive.sum() - longer.sum()), int(longer.sum())])


def _share_longer(cells: np.ndarray) -> np.ndarray:
    return rate(cells[..., 1], cells.sum(axis=-1))


def length_bias_section(views: AuditViews, config: BootstrapConfig) -> list[dict]:
    data, h, ai = views.data, views.human, views.ai
    rows: list[dict[str, Any]] = []

    def add(source: str, kind: str, labels, pairs) -> None:
        cells = longer_win_cells(labels, data.len_a[pairs], data.len_b[pairs])
        n = len(labels)
        rows.append(
            {
                "source": source,
                "kind": kind,
                "n_labels": int(n),
                "tie_rate": clean(rate(np.array([(labels == 2).sum()]), np.array([n]))[0]),
                "longer_wins": bootstrap_cells(cells, _share_longer, config).to_dict(),
            }
        )

    if len(h.rating_label):
        add("human (all ratings)", "human", h.rating_label, h.rating_pair)
        decided = h.majority >= 0
        add("human majority", "human", h.majority[decided], h.unit_pair[decided])
    judge = views.source_judge[ai.source] if len(ai.source) else np.zeros(0, dtype=np.int64)
    for code in np.unique(judge):
        sel = judge == code
        add(views.judge_names[code], "ai", ai.label[sel], ai.pair[sel])
        principles = views.source_principle[ai.source[sel]]
        if len(np.unique(principles)) > 1:
            for p in np.unique(principles):
                sub = sel.copy()
                sub[sel] = principles == p
                add(
                    f"{views.judge_names[code]} · {principle_label(views.principles[p])}",
                    "ai",
                    ai.label[sub],
                    ai.pair[sub],
                )
    return rows


def reward_model_section(engine: Engine, scope: AuditScope) -> list[dict]:
    """Runs whose metrics hold ``rm_heldout_accuracy``: for a job or snapshot scope, those
    trained on a snapshot containing the scope's pairs; for the whole store, all of them."""
    where, params = scope_condition(scope, "se.pair_id")
    sql = (
        "SELECT tr.id, tr.name, tr.kind, tr.status, tr.snapshot_hash, tr.metrics, s.name"
        " FROM training_run tr LEFT JOIN snapshot s ON s.id = tr.snapshot_id"
    )
    if where:
        sql += (
            " WHERE tr.snapshot_id IN (SELECT se.snapshot_id FROM snapshotexample se"
            " WHERE 1 = 1" + where + ")"
        )
    with engine.connect() as conn:
        runs = conn.execute(text(sql + " ORDER BY tr.id"), params).all()
    out = []
    for run_id, name, kind, status, snapshot_hash, metrics, snapshot_name in runs:
        values = json.loads(metrics) if isinstance(metrics, str) else (metrics or {})
        accuracy = values.get("rm_heldout_accuracy")
        if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
            out.append(
                {
                    "run_id": run_id,
                    "name": name,
                    "kind": kind,
                    "status": status,
                    "snapshot": snapshot_name,
                    "snapshot_hash": snapshot_hash,
                    "rm_heldout_accuracy": clean(accuracy),
                    "n_heldout": values.get("rm_heldout_n"),
                }
            )
    return out
