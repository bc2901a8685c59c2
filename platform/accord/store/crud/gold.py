"""Keyword-only CRUD for gold pairs (never commits: the caller owns the transaction).

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.crud.prompts import upsert_prompt
>>> from accord.store.crud.responses import upsert_response
>>> from accord.store.crud.pairs import upsert_pair
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     p = upsert_prompt(s, text="3+3?")
...     good, bad = upsert_response(s, prompt=p, text="6"), upsert_response(s, prompt=p, text="7")
...     pair = upsert_pair(s, response_x=good, response_y=bad)
...     row, outcome = set_gold(s, pair=pair, chosen_id=good.id, source="doc")
...     row.answer == ("a" if pair.response_a_id == good.id else "b"), outcome
(True, 'created')
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, select

from ..models import GoldPair, Pair
from ..models.gold import ANSWERS
from .pairs import side_of


def set_gold(
    session: Session,
    *,
    pair: Pair,
    answer: str | None = None,
    chosen_id: int | None = None,
    source: str = "",
) -> tuple[GoldPair, str]:
    """Mark ``pair`` as gold with its better side (``answer`` a | b, or the chosen response);
    returns the row and 'created' | 'updated' | 'unchanged'."""
    if (answer is None) == (chosen_id is None):
        raise ValueError("give the gold answer as a side (a | b) or as the chosen response")
    if chosen_id is not None:
        answer = side_of(pair, chosen_id)
    if answer not in ANSWERS:
        raise ValueError(
            f"a gold answer is one of {', '.join(ANSWERS)} (ties are not gold), got {answer!r}"
        )
    row = session.exec(select(GoldPair).where(GoldPair.pair_id == pair.id)).first()
    if row is None:
        row = GoldPair(pair_id=pair.id, answer=answer, source=source)
        outcome = "created"
    elif row.answer == answer:
        return row, "unchanged"
    else:
        row.answer, row.source, outcome = answer, source or row.source, "updated"
    session.add(row)
    session.flush()
    return row, outcome


def gold_answers(session: Session, *, pair_ids: Sequence[int] | None = None) -> dict[int, str]:
    """pair id → gold answer (a | b), of every gold pair or of the given ones."""
    query = select(GoldPair.pair_id, GoldPair.answer)
    if pair_ids is None:
        return dict(session.exec(query).all())
    out: dict[int, str] = {}
    ids = list(pair_ids)
    for start in range(0, len(ids), 500):
        out.update(session.exec(query.where(GoldPair.pair_id.in_(ids[start : start + 500]))).all())
    return out


def list_gold(session: Session, *, offset: int = 0, limit: int = 100) -> tuple[list[GoldPair], int]:
    from .paging import page

    return page(session, GoldPair, [], order_by=GoldPair.pair_id, offset=offset, limit=limit)


def remove_gold(session: Session, *, pair_id: int) -> bool:
    row = session.exec(select(GoldPair).where(GoldPair.pair_id == pair_id)).first()
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
