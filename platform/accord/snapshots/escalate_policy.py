"""The ``escalate`` snapshot policy: human labels where present, AI labels only where certified.

For each AI judge (one vote per pair, judge and constitution; calibrated first when the
snapshot is built with ``--calibration``), the pairs among the snapshot's that carry both its
vote and a human outcome form the calibration set: per pair the AI label's confidence
``max(p, 1 - p)`` and whether its side (p > 0.5 → a, p < 0.5 → b; exactly 0.5 disagrees) is
the human majority's (human votes tied on a pair give no outcome). ``certify_escalation``
(``accord.audit.escalation``) returns the lowest threshold t whose kept labels agree with
humans at ≥ ``target`` with probability ≥ ``1 - delta``. On pairs without a human label the
policy keeps the judge's votes with confidence ≥ t and drops the rest; with no certified
threshold it keeps none of that judge's votes and the manifest says so. Labels resolve as in
``human-over-ai`` (hard sides): the guarantee is about the side an AI label picks.

The manifest's ``escalation`` records target, delta, the calibration used, the coverage over
every AI-only pair, and per judge the threshold, coverage, kept and escalated counts, the
certified agreement's lower bound and the hash of the human label set it rests on (the same
definition as ``accord escalate`` records, restricted to this snapshot's pairs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ..hashing import content_hash
from ..store.models import Pair


def human_outcomes(votes: pd.DataFrame) -> pd.Series:
    """Per pair with human votes: 1 where more humans chose a, 0 where more chose b (tied
    pairs are left out)."""
    human = votes[(votes.kind == "human").to_numpy(bool)]
    value = human.value.to_numpy(float)
    side = np.where(value > 0.5, 1, np.where(value < 0.5, -1, 0))
    score = pd.Series(side, index=human.pair_id.to_numpy(np.int64)).groupby(level=0).sum()
    score = score[score != 0]
    return (score > 0).astype(np.int64)


def _pair_keys(engine: Engine, pair_ids: list[int]) -> dict[int, str]:
    p = Pair.__table__.c
    keys: dict[int, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(pair_ids), 5000):
            chunk = pair_ids[start : start + 5000]
            keys.update(
                (int(i), k)
                for i, k in conn.execute(select(p.id, p.content_hash).where(p.id.in_(chunk)))
            )
    return keys


def escalate_votes(
    engine: Engine, votes: pd.DataFrame, params: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The votes with uncertified AI votes dropped, and the manifest's ``escalation``."""
    from ..audit.escalation import certify_escalation

    outcome = human_outcomes(votes)
    is_ai = (votes.kind == "ai").to_numpy(bool)
    human_pairs = np.unique(votes.pair_id.to_numpy(np.int64)[~is_ai])
    keep = np.ones(len(votes), dtype=bool)
    ai = votes[is_ai]
    ai_index = np.flatnonzero(is_ai)
    keys = _pair_keys(engine, [int(i) for i in outcome.index])
    judges = []
    groups = ai.groupby([ai.judge.fillna(""), ai.constitution_hash.fillna("")], sort=True).indices
    for (judge, constitution), rows in groups.items():
        pair_id = ai.pair_id.to_numpy(np.int64)[rows]
        p = ai.value.to_numpy(float)[rows]
        confidence = np.maximum(p, 1.0 - p)
        labelled = np.isin(pair_id, outcome.index.to_numpy(np.int64))
        truth = outcome.reindex(pair_id[labelled]).to_numpy(np.int64)
        agrees = np.where(p[labelled] == 0.5, False, (p[labelled] > 0.5) == (truth == 1))
        cert = certify_escalation(
            confidence[labelled], agrees, target=params.target, delta=params.delta
        )
        ai_only = ~np.isin(pair_id, human_pairs)
        kept = (
            ai_only & (confidence >= cert.threshold)
            if cert.threshold is not None
            else np.zeros(len(rows), bool)
        )
        keep[ai_index[rows[ai_only & ~kept]]] = False
        n_ai_only = int(ai_only.sum())
        entry = {
            "judge": judge,
            "constitution_hash": constitution,
            "threshold": cert.threshold,
            "n_calibration": cert.n_calibration,
            "calibration_kept": cert.n_kept,
            "agreement": cert.agreement,
            "agreement_lower": cert.agreement_lower,
            "human_label_hash": content_hash(
                "human-labels-v1",
                sorted(zip((keys[int(i)] for i in pair_id[labelled]), truth.tolist(), strict=True)),
            ),
            "ai_only_pairs": n_ai_only,
            "kept": int(kept.sum()),
            "escalated": n_ai_only - int(kept.sum()),
            "coverage": round(int(kept.sum()) / n_ai_only, 6) if n_ai_only else 0.0,
        }
        if cert.threshold is None:
            entry["note"] = (
                f"no threshold certified at target {params.target} with delta "
                f"{params.delta} on {cert.n_calibration} pairs with a human "
                "outcome: none of this judge's AI labels kept"
            )
        judges.append(entry)
    pair_id = votes.pair_id.to_numpy(np.int64)
    ai_only_pairs = np.setdiff1d(np.unique(pair_id[is_ai]), human_pairs)
    kept_pairs = np.intersect1d(pair_id[is_ai & keep], ai_only_pairs)
    figures = {
        "target": params.target,
        "delta": params.delta,
        "calibration_id": params.calibration,
        "method": "certify_escalation per judge on the snapshot's pairs with a human outcome",
        "ai_only_pairs": int(ai_only_pairs.size),
        "ai_only_pairs_kept": int(kept_pairs.size),
        "coverage": round(kept_pairs.size / ai_only_pairs.size, 6) if ai_only_pairs.size else 0.0,
        "judges": judges,
    }
    if not judges:
        figures["note"] = "no AI label among these pairs: only human labels kept"
    return votes[keep], {"escalation": figures}
