"""Which pairs annotators should see first: a priority score per pair, highest first.

``accord argilla push --priority P`` scores every pushed pair, writes the score into the
record's ``accord_priority`` metadata (a float in [0, 1]; sort it descending in Argilla to
annotate the most informative pairs first) and sends the records in that order.

- ``uncertainty``: 1 − 2·|p − 0.5| with p the AI soft label shown as the suggestion (the
  judge's aggregate, else its newest label), mapped through the judge's newest stored
  calibration when one exists: the pairs the judge is least sure about come first.
- ``disagreement``: the share of AI voters (one per judge × principle × constitution, its
  orders averaged) that are not in the majority: judges or principles that disagree.
- ``position-inconsistent``: the share of a pair's (judge, principle) cells whose two
  presentation orders chose different sides; ties broken by how far the two soft labels are.
- ``random``: a seeded coin per pair (a control arm for measuring what the others gain).

Pairs the chosen signal says nothing about (no AI soft label, a single voter, one order only)
score 0 and come last, in id order.

>>> from accord.store.db import open_store
>>> priority_scores(open_store("sqlite://"), [], priority="uncertainty")
{}
>>> order_by_priority({1: 0.2, 2: 0.9, 3: 0.2})
[2, 1, 3]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ...hashing import content_hash
from ...store.models import Calibration, Judgment, Pair
from .schema import METADATA_PRIORITY

PRIORITIES = ("uncertainty", "disagreement", "position-inconsistent", "random")
__all__ = [
    "METADATA_PRIORITY",
    "PRIORITIES",
    "check_priority",
    "order_by_priority",
    "priority_scores",
]
_CHUNK = 500  # keep IN lists under SQLite's variable limit


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    return priority


def order_by_priority(scores: dict[int, float]) -> list[int]:
    """Pair ids, highest score first; equal scores in id order (deterministic)."""
    return sorted(scores, key=lambda pid: (-scores[pid], pid))


def _ai_judgments(session: Session, pair_ids: Sequence[int]) -> list[Judgment]:
    rows: list[Judgment] = []
    for start in range(0, len(pair_ids), _CHUNK):
        chunk = list(pair_ids[start : start + _CHUNK])
        rows.extend(
            session.exec(
                select(Judgment).where(
                    Judgment.pair_id.in_(chunk),
                    Judgment.kind == "ai",
                    Judgment.status == "submitted",
                )
            ).all()
        )
    return rows


def _calibrated(session: Session, judgment: Judgment, cache: dict) -> float:
    """The judgment's soft label through its judge's newest calibration (if any)."""
    key = (judgment.judge, judgment.constitution_hash)
    if key not in cache:
        from ...audit.calibrate import calibration_map

        rows = session.exec(
            select(Calibration)
            .where(
                Calibration.judge == judgment.judge,
                Calibration.principle == "",
                Calibration.constitution_hash.in_((judgment.constitution_hash, "")),
            )
            .order_by(Calibration.created_at.desc(), Calibration.id.desc())
        ).all()
        cache[key] = calibration_map(rows[0]) if rows else None
    mapping = cache[key]
    return float(mapping.apply([judgment.prob_a])[0]) if mapping is not None else judgment.prob_a


def _uncertainty(session: Session, judgments: list[Judgment]) -> dict[int, float]:
    best: dict[int, Judgment] = {}
    for row in judgments:
        if row.prob_a is None:
            continue
        current = best.get(row.pair_id)
        if current is None or (row.is_aggregate, row.updated_at, row.id) > (
            current.is_aggregate,
            current.updated_at,
            current.id,
        ):
            best[row.pair_id] = row
    cache: dict = {}
    return {
        pid: 1.0 - 2.0 * abs(_calibrated(session, row, cache) - 0.5) for pid, row in best.items()
    }


def _side(judgment: Judgment) -> str | None:
    if judgment.prob_a is not None:
        return "tie" if judgment.prob_a == 0.5 else ("a" if judgment.prob_a > 0.5 else "b")
    return judgment.preferred


def _disagreement(judgments: list[Judgment]) -> dict[int, float]:
    cells: dict[int, dict[tuple, list[Judgment]]] = defaultdict(lambda: defaultdict(list))
    for row in judgments:
        if not row.is_aggregate:
            cells[row.pair_id][(row.judge, row.principle, row.constitution_hash)].append(row)
    scores = {}
    for pid, voters in cells.items():
        votes = []
        for rows in voters.values():
            probs = [r.prob_a for r in rows if r.prob_a is not None]
            if probs:
                mean = sum(probs) / len(probs)
                votes.append("tie" if mean == 0.5 else ("a" if mean > 0.5 else "b"))
            else:
                sides = {r.preferred for r in rows if r.preferred}
                votes.append(sides.pop() if len(sides) == 1 else "tie")
        if len(votes) >= 2:
            top = max(votes.count(side) for side in ("a", "b", "tie"))
            scores[pid] = 1.0 - top / len(votes)
    return scores


def _position_inconsistency(judgments: list[Judgment]) -> dict[int, float]:
    cells: dict[int, dict[tuple, dict[str, Judgment]]] = defaultdict(lambda: defaultdict(dict))
    for row in judgments:
        if row.presentation_order in ("ab", "ba") and not row.is_aggregate:
            cells[row.pair_id][(row.judge, row.principle, row.constitution_hash)][
                row.presentation_order
            ] = row
    scores = {}
    for pid, by_cell in cells.items():
        both = [c for c in by_cell.values() if len(c) == 2]
        if not both:
            continue
        flips = sum(_side(c["ab"]) != _side(c["ba"]) for c in both)
        gaps = [
            abs(c["ab"].prob_a - c["ba"].prob_a)
            for c in both
            if c["ab"].prob_a is not None and c["ba"].prob_a is not None
        ]
        gap = sum(gaps) / len(gaps) if gaps else 0.0
        # the flip share decides; the soft-label gap (≤ 1) only breaks ties between equal shares
        scores[pid] = (flips + gap / 2) / (len(both) + 0.5)
    return scores


def priority_scores(
    engine: Engine, pair_ids: Sequence[int], *, priority: str, seed: int = 0
) -> dict[int, float]:
    """A score in [0, 1] per pair (higher: annotate sooner); see the module for each kind."""
    check_priority(priority)
    pair_ids = list(pair_ids)
    if not pair_ids:
        return {}
    with Session(engine) as session:
        if priority == "random":
            hashes = {}
            for start in range(0, len(pair_ids), _CHUNK):
                chunk = pair_ids[start : start + _CHUNK]
                hashes.update(
                    session.exec(select(Pair.id, Pair.content_hash).where(Pair.id.in_(chunk))).all()
                )
            return {
                pid: int(content_hash("argilla-priority", seed, hashes[pid])[:12], 16) / 16**12
                for pid in pair_ids
            }
        judgments = _ai_judgments(session, pair_ids)
        if priority == "uncertainty":
            found = _uncertainty(session, judgments)
        elif priority == "disagreement":
            found = _disagreement(judgments)
        else:
            found = _position_inconsistency(judgments)
    return {pid: round(min(1.0, max(0.0, found.get(pid, 0.0))), 6) for pid in pair_ids}
