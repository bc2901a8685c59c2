"""Reading, from the store, the pairs that carry both an AI judge's soft label and a human label.

The AI soft label of a pair is the judge's aggregate judgment (``principle=""``: the ensemble
over principles and both orders), or, for one principle, the mean over presentation orders of
that principle's individual judgments. The human outcome is the majority of the pair's human
votes: 1 where more annotators preferred response_a, 0 where more preferred response_b; pairs
whose human votes tie (or are all "tie") carry no outcome and are left out.

``human_label_hash`` names the human label set (pairs by their content key, with outcomes), so a
calibration or an escalation certificate records exactly which human labels it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Engine

from accord.hashing import content_hash
from accord.store.models import ConstitutionRow, Judgment, Pair


class CalibrationDataError(ValueError):
    """The selection is ambiguous or empty; the message says what to pass."""


@dataclass(frozen=True)
class JudgeSelection:
    judge: str
    constitution_hash: str = ""
    principle: str = ""

    def describe(self) -> str:
        parts = [f"judge {self.judge!r}"]
        if self.constitution_hash:
            parts.append(f"constitution {self.constitution_hash[:12]}")
        parts.append(f"principle {self.principle!r}" if self.principle else "aggregate label")
        return ", ".join(parts)


@dataclass(frozen=True)
class LabelledPairs:
    """Parallel arrays over pairs: the judge's P(response_a) and, where humans labelled the
    pair, their outcome (1 = a, 0 = b, -1 = no human outcome)."""

    selection: JudgeSelection
    pair_ids: np.ndarray
    pair_keys: list[str]
    prob: np.ndarray
    outcome: np.ndarray

    @property
    def labelled(self) -> np.ndarray:
        return self.outcome >= 0

    def human_label_hash(self) -> str:
        keep = self.labelled
        items = sorted(
            zip(
                (k for k, m in zip(self.pair_keys, keep, strict=True) if m),
                self.outcome[keep].tolist(),
                strict=True,
            )
        )
        return content_hash("human-labels-v1", items)


def resolve_constitution(engine: Engine, value: str | None) -> str:
    """A constitution name, name@version, content hash or hash prefix → its content hash."""
    if not value:
        return ""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ConstitutionRow.name, ConstitutionRow.version, ConstitutionRow.content_hash)
        ).all()
    name, _, version = value.partition("@")
    matches = {
        h
        for n, v, h in rows
        if h.startswith(value) or (n == name and (not version or v == version))
    }
    if not matches:
        raise CalibrationDataError(f"no constitution {value!r} in the store")
    if len(matches) > 1:
        raise CalibrationDataError(
            f"constitution {value!r} is ambiguous ({len(matches)} "
            "versions): give name@version or the content hash"
        )
    return matches.pop()


def _ai_labels(conn, selection: JudgeSelection) -> dict[int, float]:
    j = Judgment.__table__.c
    where = [
        j.kind == "ai",
        j.judge == selection.judge,
        j.prob_a.is_not(None),
        j.status == "submitted",
    ]
    if selection.constitution_hash:
        where.append(j.constitution_hash == selection.constitution_hash)
    if selection.principle:
        where += [
            j.principle == selection.principle,
            j.is_aggregate.is_(False),
            j.presentation_order.in_(("ab", "ba")),
        ]
    else:
        where.append(j.is_aggregate.is_(True))
    groups = conn.execute(
        select(j.constitution_hash, j.principle, func.count())
        .where(and_(*where))
        .group_by(j.constitution_hash, j.principle)
    ).all()
    if not groups:
        raise CalibrationDataError(f"no AI soft labels for {selection.describe()}")
    if len(groups) > 1:
        found = ", ".join(f"{c[:12] or '-'}/{p or '-'} ({n})" for c, p, n in groups)
        raise CalibrationDataError(
            f"{selection.describe()} has labels under several constitutions or principle sets "
            f"({found}): pass a constitution (and a principle) to choose one"
        )
    rows = conn.execute(
        select(j.pair_id, func.avg(j.prob_a)).where(and_(*where)).group_by(j.pair_id)
    ).all()
    return {int(pid): float(p) for pid, p in rows}


def _human_outcomes(conn, pair_ids: list[int]) -> dict[int, int]:
    j = Judgment.__table__.c
    a_votes = func.sum(case((j.preferred == "a", 1), else_=0))
    b_votes = func.sum(case((j.preferred == "b", 1), else_=0))
    out: dict[int, int] = {}
    for start in range(0, len(pair_ids), 5000):
        chunk = pair_ids[start : start + 5000]
        rows = conn.execute(
            select(j.pair_id, a_votes, b_votes)
            .where(j.kind == "human", j.status == "submitted", j.pair_id.in_(chunk))
            .group_by(j.pair_id)
        ).all()
        for pid, a, b in rows:
            if a != b:
                out[int(pid)] = 1 if a > b else 0
    return out


def load_labelled_pairs(engine: Engine, selection: JudgeSelection) -> LabelledPairs:
    """Every pair the judge labelled (softly), with the human outcome where there is one."""
    with engine.connect() as conn:
        ai = _ai_labels(conn, selection)
        pair_ids = sorted(ai)
        humans = _human_outcomes(conn, pair_ids)
        keys: dict[int, str] = {}
        p = Pair.__table__.c
        for start in range(0, len(pair_ids), 5000):
            chunk = pair_ids[start : start + 5000]
            keys.update(
                {
                    int(i): k
                    for i, k in conn.execute(select(p.id, p.content_hash).where(p.id.in_(chunk)))
                }
            )
    return LabelledPairs(
        selection=selection,
        pair_ids=np.asarray(pair_ids, dtype=np.int64),
        pair_keys=[keys[i] for i in pair_ids],
        prob=np.asarray([ai[i] for i in pair_ids], dtype=np.float64),
        outcome=np.asarray([humans.get(i, -1) for i in pair_ids], dtype=np.int64),
    )
