"""Keyword-only CRUD for judgments, with history of changed answers.

Writing a judgment whose natural key exists updates it when its value changed and keeps the
previous value in ``JudgmentRevision``; writing the same value again changes nothing.

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.crud.prompts import upsert_prompt
>>> from accord.store.crud.responses import upsert_response
>>> from accord.store.crud.pairs import upsert_pair
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     p = upsert_prompt(s, text="Q")
...     pair = upsert_pair(s, response_x=upsert_response(s, prompt=p, text="1"),
...                        response_y=upsert_response(s, prompt=p, text="2"))
...     _, first = upsert_judgment(s, pair=pair, kind="human", judge="ann", preferred="a")
...     _, again = upsert_judgment(s, pair=pair, kind="human", judge="ann", preferred="a")
...     _, changed = upsert_judgment(s, pair=pair, kind="human", judge="ann", preferred="b")
...     (first, again, changed, len(judgment_history(s, judgment_id=_.id)))
('created', 'unchanged', 'updated', 1)
"""

from __future__ import annotations

from datetime import datetime
from itertools import product
from typing import Any

from sqlmodel import Session, select

from ..keys import judgment_key
from ..models import Judgment, JudgmentRevision, Pair
from ..models._base import utcnow
from ..models.judgment import KINDS, ORDERS, SIDES, STATUSES
from ..text import check_store_text
from .paging import equal_to, page

# The fields whose change is a new answer (kept in history); the rest is bookkeeping.
VALUE_FIELDS = ("preferred", "prob_a", "strength", "rationale", "status")


def _check_judgment_values(
    *, kind: str, preferred: str | None, prob_a: float | None, presentation_order: str, status: str
) -> None:
    if kind not in KINDS:
        raise ValueError(f"judgment kind must be one of {KINDS}, got {kind!r}")
    if preferred is not None and preferred not in SIDES:
        raise ValueError(f"preferred must be one of {SIDES} or None, got {preferred!r}")
    if prob_a is not None and not (0.0 <= prob_a <= 1.0):
        raise ValueError(f"prob_a must be within [0, 1], got {prob_a!r}")
    if presentation_order not in ORDERS:
        raise ValueError(f"presentation_order must be one of {ORDERS}, got {presentation_order!r}")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    if status == "submitted" and preferred is None:
        raise ValueError("a submitted judgment needs preferred = a, b or tie")


def _passes(kind: str, preferred: str | None, order: str, status: str) -> bool:
    try:
        _check_judgment_values(
            kind=kind, preferred=preferred, prob_a=None, presentation_order=order, status=status
        )
    except ValueError:
        return False
    return True


# Every (kind, preferred, presentation order, status) the checks accept, derived from the
# checks themselves: an import validates each judgment with one set look-up, and only an
# invalid one runs the checks that say what is wrong.
_VALID_LABELS = frozenset(
    labels for labels in product(KINDS, (*SIDES, None), ORDERS, STATUSES) if _passes(*labels)
)


def validate_judgment_values(
    *, kind: str, preferred: str | None, prob_a: float | None, presentation_order: str, status: str
) -> None:
    """ValueError naming the first invalid value of a judgment."""
    try:
        if (kind, preferred, presentation_order, status) in _VALID_LABELS and (
            prob_a is None or 0.0 <= prob_a <= 1.0
        ):
            return
    except TypeError:  # an unhashable or uncomparable value: the checks name it
        pass
    _check_judgment_values(
        kind=kind,
        preferred=preferred,
        prob_a=prob_a,
        presentation_order=presentation_order,
        status=status,
    )


def preferred_from_prob(prob_a: float, *, tie_band: float = 0.0) -> str:
    """The side a soft probability favours ('tie' within ``tie_band`` of 0.5)."""
    if abs(prob_a - 0.5) <= tie_band:
        return "tie"
    return "a" if prob_a > 0.5 else "b"


def upsert_judgment(
    session: Session,
    *,
    pair: Pair,
    kind: str,
    judge: str,
    preferred: str | None,
    prob_a: float | None = None,
    presentation_order: str = "",
    principle: str = "",
    constitution_hash: str = "",
    constitution_id: int | None = None,
    annotator_id: int | None = None,
    judge_backend: str = "",
    strength: int | None = None,
    rationale: str | None = None,
    raw_output: str | None = None,
    status: str = "submitted",
    is_aggregate: bool = False,
    source: str = "",
    external_id: str | None = None,
    job_id: int | None = None,
    meta: dict[str, Any] | None = None,
    when: datetime | None = None,
) -> tuple[Judgment, str]:
    """Create or update one judgment; returns it and 'created' | 'updated' | 'unchanged'."""
    validate_judgment_values(
        kind=kind,
        preferred=preferred,
        prob_a=prob_a,
        presentation_order=presentation_order,
        status=status,
    )
    check_store_text(rationale, field="rationale")
    check_store_text(raw_output, field="raw_output")
    key = judgment_key(
        pair.content_hash,
        judge,
        kind=kind,
        presentation_order=presentation_order,
        principle=principle,
        constitution_hash=constitution_hash,
    )
    values = {
        "preferred": preferred,
        "prob_a": prob_a,
        "strength": strength,
        "rationale": rationale,
        "status": status,
    }
    existing = session.exec(select(Judgment).where(Judgment.key_hash == key)).first()
    now = when or utcnow()
    if existing is None:
        judgment = Judgment(
            pair_id=pair.id,
            kind=kind,
            judge=judge,
            principle=principle,
            presentation_order=presentation_order,
            is_aggregate=is_aggregate,
            key_hash=key,
            annotator_id=annotator_id,
            judge_backend=judge_backend,
            constitution_id=constitution_id,
            constitution_hash=constitution_hash,
            raw_output=raw_output,
            source=source,
            external_id=external_id,
            job_id=job_id,
            meta=meta or {},
            created_at=now,
            updated_at=now,
            **values,
        )
        session.add(judgment)
        session.flush()
        return judgment, "created"
    if all(getattr(existing, f) == v for f, v in values.items()):
        return existing, "unchanged"
    session.add(
        JudgmentRevision(
            judgment_id=existing.id,
            valid_from=existing.updated_at,
            **{f: getattr(existing, f) for f in VALUE_FIELDS},
        )
    )
    for f, v in values.items():
        setattr(existing, f, v)
    if raw_output is not None:
        existing.raw_output = raw_output
    if meta:
        existing.meta = {**existing.meta, **meta}
    existing.updated_at = now
    session.add(existing)
    session.flush()
    return existing, "updated"


def get_judgment(session: Session, *, judgment_id: int) -> Judgment | None:
    return session.get(Judgment, judgment_id)


def judgment_history(session: Session, *, judgment_id: int) -> list[JudgmentRevision]:
    """Earlier values of a judgment, oldest first."""
    q = select(JudgmentRevision).where(JudgmentRevision.judgment_id == judgment_id)
    return list(session.exec(q.order_by(JudgmentRevision.id)).all())


def list_judgments(
    session: Session,
    *,
    pair_id: int | None = None,
    kind: str | None = None,
    judge: str | None = None,
    annotator_id: int | None = None,
    constitution_hash: str | None = None,
    principle: str | None = None,
    job_id: int | None = None,
    include_aggregates: bool = True,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Judgment], int]:
    """A filtered page of judgments and the total count."""
    conds = equal_to(
        {
            Judgment.pair_id: pair_id,
            Judgment.kind: kind,
            Judgment.judge: judge,
            Judgment.annotator_id: annotator_id,
            Judgment.constitution_hash: constitution_hash,
            Judgment.principle: principle,
            Judgment.job_id: job_id,
        }
    )
    if not include_aggregates:
        conds.append(Judgment.is_aggregate == False)
    return page(session, Judgment, conds, order_by=Judgment.id, offset=offset, limit=limit)
