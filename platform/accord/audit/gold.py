"""Each annotator's accuracy on gold pairs (pairs with a known answer, ``accord gold add``),
with a Wilson score interval.

Every submitted human label on a gold pair counts: the right side is correct; the wrong side
and a tie are wrong (a gold pair has a better side). Gold accuracy describes the annotator,
so it is measured over all gold pairs of the store, whatever the audit's scope.
``accord snapshot create --min-gold-accuracy X`` drops the labels of the annotators below X.

>>> wilson_interval(8, 10)
(0.490162, 0.943318)
>>> from accord.store.db import open_store
>>> gold_accuracy_section(open_store("sqlite://"))
[]
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine


def wilson_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (rounded to 6 digits)."""
    if n <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)


def gold_accuracy_section(engine: Engine, *, confidence: float = 0.95) -> list[dict[str, Any]]:
    """One row per annotator who labelled gold pairs: n, correct, accuracy and its interval
    (``annotator_id`` is the store's annotator id, None for labels without one)."""
    rows: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for judge, annotator_id, preferred, answer in conn.execute(
            text(
                "SELECT j.judge, j.annotator_id, j.preferred, g.answer FROM judgment j"
                " JOIN gold_pair g ON g.pair_id = j.pair_id"
                " WHERE j.kind = 'human' AND j.status = 'submitted'"
                " AND j.preferred IS NOT NULL"
            )
        ):
            row = rows.setdefault(
                judge, {"annotator": judge, "annotator_id": annotator_id, "n_gold": 0, "correct": 0}
            )
            row["n_gold"] += 1
            row["correct"] += preferred == answer
    out = []
    for judge in sorted(rows):
        row = rows[judge]
        low, high = wilson_interval(row["correct"], row["n_gold"], confidence)
        out.append(
            {
                **row,
                "accuracy": round(row["correct"] / row["n_gold"], 6),
                "ci_low": low,
                "ci_high": high,
                "confidence_level": confidence,
            }
        )
    return out
