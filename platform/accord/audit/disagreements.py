"""The disagreement queue: pairs worth a second human look, ranked.

A pair scores the disagreement among its human labels (1 − the largest label share, on pairs
with two or more human labels) plus the conflict between AI labels and the human majority
(the share of AI label sources that disagree with it: opposite side counts 1, a tie against a
side or a side against a tie counts ½). Pairs scoring 0 are not in the queue.

>>> from accord.store.db import open_store
>>> select_disagreements(open_store("sqlite://"), limit=10)
[]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from .humans import clean
from .loader import AuditData, AuditScope, load_audit_data
from .views import TIE, AuditViews


@dataclass
class DisagreementQueue:
    """Ranked pairs (best first) with the parts of their score."""

    pair_ids: np.ndarray
    score: np.ndarray
    human_disagreement: np.ndarray
    ai_conflict: np.ndarray
    n_human: np.ndarray
    n_ai: np.ndarray

    def __len__(self) -> int:
        return len(self.pair_ids)

    def top(self, limit: int | None = None) -> list[dict]:
        n = len(self) if limit is None else min(limit, len(self))
        return [
            {
                "pair_id": int(self.pair_ids[i]),
                "score": clean(self.score[i], 4),
                "human_disagreement": clean(self.human_disagreement[i], 4),
                "ai_conflict": clean(self.ai_conflict[i], 4),
                "n_human": int(self.n_human[i]),
                "n_ai": int(self.n_ai[i]),
            }
            for i in range(n)
        ]


def score_disagreements(data: AuditData, views: AuditViews | None = None) -> DisagreementQueue:
    views = views or AuditViews.build(data)
    h, ai = views.human, views.ai
    n_pairs = len(data.pair_ids)
    m = h.n_ratings
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_dis = np.where(
            m >= 2, 1.0 - h.value_counts.max(axis=1, initial=0) / np.maximum(m, 1), 0.0
        )
    human_dis = np.zeros(n_pairs)
    np.maximum.at(human_dis, h.unit_pair, unit_dis)
    n_human = np.bincount(h.rating_pair, minlength=n_pairs)

    compared = ai.reference >= 0
    ref, lab, pair = ai.reference[compared], ai.label[compared], ai.pair[compared]
    conflict = np.where(ref == lab, 0.0, np.where((ref == TIE) | (lab == TIE), 0.5, 1.0))
    n_ai = np.bincount(pair, minlength=n_pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        ai_conflict = np.where(
            n_ai > 0,
            np.bincount(pair, weights=conflict, minlength=n_pairs) / np.maximum(n_ai, 1),
            0.0,
        )
    score = human_dis + ai_conflict
    keep = np.flatnonzero(score > 0)
    # Highest score first; then the pair with more labels behind it; then the lower id.
    order = np.lexsort((data.pair_ids[keep], -(n_human[keep] + n_ai[keep]), -score[keep]))
    idx = keep[order]
    return DisagreementQueue(
        data.pair_ids[idx], score[idx], human_dis[idx], ai_conflict[idx], n_human[idx], n_ai[idx]
    )


def select_disagreements(
    engine: Engine, *, scope: AuditScope | None = None, limit: int = 100, min_score: float = 0.0
) -> list[int]:
    """Pair ids where humans disagree or humans and AI conflict, most contested first."""
    if limit < 0:
        raise ValueError(f"limit must be ≥ 0, got {limit}")
    queue = score_disagreements(load_audit_data(engine, scope))
    ids = queue.pair_ids[queue.score > min_score]
    return [int(i) for i in ids[:limit]]
