"""Keyword-only CRUD for pairs (canonical sides: see ``accord.store.keys.canonical_sides``).

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.crud.prompts import upsert_prompt
>>> from accord.store.crud.responses import upsert_response
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     p = upsert_prompt(s, text="Q")
...     x, y = upsert_response(s, prompt=p, text="1"), upsert_response(s, prompt=p, text="2")
...     xy = upsert_pair(s, response_x=x, response_y=y)
...     yx = upsert_pair(s, response_x=y, response_y=x)
...     xy.id == yx.id
True
"""

from __future__ import annotations

from sqlmodel import Session, select

from ..keys import pair_key
from ..models import Pair, Response
from .paging import equal_to, page


def upsert_pair(
    session: Session,
    *,
    response_x: Response,
    response_y: Response,
    source: str = "",
    job_id: int | None = None,
) -> Pair:
    """The pair of these two responses of one prompt, in either order, created if new."""
    if response_x.prompt_id != response_y.prompt_id:
        raise ValueError("a pair's two responses must answer the same prompt")
    if response_x.content_hash == response_y.content_hash:
        raise ValueError("a pair needs two different responses")
    key = pair_key(response_x.content_hash, response_y.content_hash)
    existing = session.exec(select(Pair).where(Pair.content_hash == key)).first()
    if existing is not None:
        return existing
    a, b = sorted((response_x, response_y), key=lambda r: r.content_hash)
    pair = Pair(
        prompt_id=a.prompt_id,
        response_a_id=a.id,
        response_b_id=b.id,
        source=source,
        job_id=job_id,
        content_hash=key,
    )
    session.add(pair)
    session.flush()
    return pair


def side_of(pair: Pair, response_id: int) -> str:
    """'a' or 'b': which canonical side of ``pair`` a response is."""
    if response_id == pair.response_a_id:
        return "a"
    if response_id == pair.response_b_id:
        return "b"
    raise ValueError(f"response {response_id} is not in pair {pair.id}")


def get_pair(session: Session, *, pair_id: int) -> Pair | None:
    return session.get(Pair, pair_id)


def list_pairs(
    session: Session,
    *,
    prompt_id: int | None = None,
    job_id: int | None = None,
    source: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Pair], int]:
    conds = equal_to({Pair.prompt_id: prompt_id, Pair.job_id: job_id, Pair.source: source})
    return page(session, Pair, conds, order_by=Pair.id, offset=offset, limit=limit)


def pair_texts(session: Session, *, pair_id: int) -> tuple[str, str, str] | None:
    """(prompt, response_a, response_b) texts of a stored pair; None when there is none."""
    from ..models import Prompt

    pair = session.get(Pair, pair_id)
    if pair is None:
        return None
    a, b = session.get(Response, pair.response_a_id), session.get(Response, pair.response_b_id)
    return session.get(Prompt, pair.prompt_id).text, a.text, b.text
