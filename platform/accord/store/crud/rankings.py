"""Keyword-only CRUD for rankings of K responses, and their expansion into pairwise judgments
(never commits: the caller owns the transaction).

``upsert_ranking`` stores one ranking and writes the (K choose 2) judgments it implies, each
with ``ranking_id`` set: the response ranked better is preferred, equal ranks are a tie, and
the presentation order of a pair is the order in which the ranker saw its two responses.
Writing the same ranking again changes nothing; a changed ranking updates its judgments (their
earlier answers are kept in ``JudgmentRevision``).

>>> from accord.store.db import open_store, session_scope
>>> from accord.store.crud.prompts import upsert_prompt
>>> from accord.store.crud.responses import upsert_response
>>> engine = open_store("sqlite://")
>>> with session_scope(engine) as s:
...     p = upsert_prompt(s, text="Name a colour")
...     rs = [upsert_response(s, prompt=p, text=t) for t in ("red", "blue", "car", "sky")]
...     ranking, outcome = upsert_ranking(
...         s, prompt=p, responses=rs, ranks=[1, 1, 3, 2], kind="human", judge="ann")
...     again = upsert_ranking(s, prompt=p, responses=rs, ranks=[1, 1, 3, 2], kind="human",
...                            judge="ann")[1]
...     outcome, again, len(ranking_judgments(s, ranking_id=ranking.id)), ranking.k
('created', 'unchanged', 6, 4)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from itertools import combinations
from typing import Any

from sqlmodel import Session, select

from ..keys import ranking_group_key, ranking_key
from ..models import Judgment, Prompt, Ranking, Response
from ..models._base import utcnow
from ..models.judgment import KINDS, STATUSES
from ..models.ranking import MAX_K, MIN_K, method_error
from ..text import check_store_text
from .judgments import upsert_judgment
from .paging import equal_to, page
from .pairs import upsert_pair


def dense_ranks(ranks: Sequence[Any], *, field: str = "ranks") -> list[int]:
    """Ranks as 1, 2, … with ties kept (``[3, 1, 3, 7]`` → ``[2, 1, 2, 3]``); ValueError
    naming ``field`` for a rank that is not a whole number ≥ 1."""
    out = []
    for i, r in enumerate(ranks):
        if isinstance(r, bool) or not isinstance(r, int | float) or r != r or r < 1:
            raise ValueError(f"{field}[{i}] must be a whole number ≥ 1, got {r!r}")
        if isinstance(r, float) and not r.is_integer():
            raise ValueError(f"{field}[{i}] must be a whole number ≥ 1, got {r!r}")
        out.append(int(r))
    levels = {v: n for n, v in enumerate(sorted(set(out)), start=1)}
    return [levels[v] for v in out]


def _check(
    *,
    prompt: Prompt,
    responses: Sequence[Response],
    ranks: Sequence[Any],
    shown_order: Sequence[Response] | None,
    scores: Sequence[float] | None,
    kind: str,
    status: str,
) -> list[int]:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    k = len(responses)
    if not MIN_K <= k <= MAX_K:
        raise ValueError(f"responses: a ranking orders {MIN_K} to {MAX_K} responses, got {k}")
    if len({r.content_hash for r in responses}) != k:
        raise ValueError("responses: a ranking needs K different responses")
    for i, r in enumerate(responses):
        if r.prompt_id != prompt.id:
            raise ValueError(f"responses[{i}] answers another prompt (prompt {r.prompt_id})")
    if len(ranks) != k:
        raise ValueError(f"ranks: {len(ranks)} ranks for {k} responses")
    dense = dense_ranks(ranks)
    if shown_order:
        if sorted(r.content_hash for r in shown_order) != sorted(r.content_hash for r in responses):
            raise ValueError("shown_order must hold each ranked response exactly once")
    if scores is not None:
        if len(scores) != k or not all(
            isinstance(x, int | float) and math.isfinite(x) for x in scores
        ):
            raise ValueError(f"scores: {k} finite numbers, one per response, expected")
    return dense


def upsert_ranking(
    session: Session,
    *,
    prompt: Prompt,
    responses: Sequence[Response],
    ranks: Sequence[int],
    kind: str,
    judge: str,
    shown_order: Sequence[Response] | None = None,
    scores: Sequence[float] | None = None,
    principle: str = "",
    constitution_hash: str = "",
    constitution_id: int | None = None,
    annotator_id: int | None = None,
    judge_backend: str = "",
    method: str = "",
    rationale: str | None = None,
    status: str = "submitted",
    source: str = "",
    external_id: str | None = None,
    job_id: int | None = None,
    meta: dict[str, Any] | None = None,
    when: datetime | None = None,
) -> tuple[Ranking, str]:
    """Create or update one ranking and its pairwise judgments; returns the ranking and
    'created' | 'updated' | 'unchanged'.

    ``ranks[i]`` is the rank of ``responses[i]`` (1 best; equal ranks are ties; any whole
    numbers ≥ 1, stored dense). ``shown_order``: the responses in the order the ranker saw
    them. ``scores`` (AI rankings): each response's strength; the expanded judgments then get
    ``prob_a = σ(score_a − score_b)``. ``method`` (AI rankings: how the judge ranked) is part
    of the natural key, so one judge's rankings by two methods are two rankings.
    """
    dense = _check(
        prompt=prompt,
        responses=responses,
        ranks=ranks,
        shown_order=shown_order,
        scores=scores,
        kind=kind,
        status=status,
    )
    check_store_text(rationale, field="rationale")
    # Canonical order: by response content hash (the same K responses in any order are one
    # ranked item).
    order = sorted(range(len(responses)), key=lambda i: responses[i].content_hash)
    canon = [responses[i] for i in order]
    canon_ranks = [dense[i] for i in order]
    canon_scores = [float(scores[i]) for i in order] if scores is not None else None
    shown = [r.id for r in shown_order] if shown_order else []
    group = ranking_group_key(prompt.content_hash, [r.content_hash for r in canon])
    problem = method_error(kind, method)
    if problem:
        raise ValueError(f"method: {problem}")
    key = ranking_key(
        group,
        judge,
        kind=kind,
        principle=principle,
        constitution_hash=constitution_hash,
        method=method,
    )
    now = when or utcnow()
    values = {
        "ranks": canon_ranks,
        "shown_order": shown,
        "status": status,
        "scores": canon_scores,
        "rationale": rationale,
    }
    ranking = session.exec(select(Ranking).where(Ranking.key_hash == key)).first()
    if ranking is None:
        ranking = Ranking(
            prompt_id=prompt.id,
            kind=kind,
            judge=judge,
            principle=principle,
            k=len(canon),
            response_ids=[r.id for r in canon],
            key_hash=key,
            method=method,
            group_key=group,
            annotator_id=annotator_id,
            judge_backend=judge_backend,
            constitution_id=constitution_id,
            constitution_hash=constitution_hash,
            source=source,
            external_id=external_id,
            job_id=job_id,
            meta=meta or {},
            created_at=now,
            updated_at=now,
            **values,
        )
        outcome = "created"
    elif all(getattr(ranking, f) == v for f, v in values.items()):
        return ranking, "unchanged"
    else:
        for f, v in values.items():
            setattr(ranking, f, v)
        if meta:
            ranking.meta = {**ranking.meta, **meta}
        ranking.updated_at = now
        outcome = "updated"
    session.add(ranking)
    session.flush()
    _expand(session, ranking=ranking, responses=canon, when=now)
    return ranking, outcome


def _expand(session: Session, *, ranking: Ranking, responses: list[Response], when) -> None:
    """The (K choose 2) pairwise judgments of ``ranking`` (``responses`` in its order)."""
    shown_at = {rid: n for n, rid in enumerate(ranking.shown_order)}
    for i, j in combinations(range(len(responses)), 2):
        x, y = responses[i], responses[j]
        pair = upsert_pair(session, response_x=x, response_y=y, source=ranking.source)
        a_is_x = pair.response_a_id == x.id
        rank_a, rank_b = (
            (ranking.ranks[i], ranking.ranks[j]) if a_is_x else (ranking.ranks[j], ranking.ranks[i])
        )
        preferred = "tie" if rank_a == rank_b else ("a" if rank_a < rank_b else "b")
        prob_a = None
        if ranking.scores is not None:
            s_a, s_b = (
                (ranking.scores[i], ranking.scores[j])
                if a_is_x
                else (ranking.scores[j], ranking.scores[i])
            )
            prob_a = 1.0 / (1.0 + math.exp(min(max(s_b - s_a, -700.0), 700.0)))
        order = ""
        if shown_at:
            order = "ab" if shown_at[pair.response_a_id] < shown_at[pair.response_b_id] else "ba"
        upsert_judgment(
            session,
            pair=pair,
            kind=ranking.kind,
            judge=ranking.judge,
            preferred=preferred if ranking.status == "submitted" else None,
            prob_a=prob_a,
            presentation_order=order,
            principle=ranking.principle,
            constitution_hash=ranking.constitution_hash,
            constitution_id=ranking.constitution_id,
            annotator_id=ranking.annotator_id,
            judge_backend=ranking.judge_backend,
            status=ranking.status,
            source=ranking.source,
            external_id=ranking.external_id,
            job_id=ranking.job_id,
            ranking=ranking,
            when=when,
        )


def get_ranking(session: Session, *, ranking_id: int) -> Ranking | None:
    return session.get(Ranking, ranking_id)


def ranking_judgments(session: Session, *, ranking_id: int) -> list[Judgment]:
    """The pairwise judgments a ranking expanded into, by id."""
    q = select(Judgment).where(Judgment.ranking_id == ranking_id).order_by(Judgment.id)
    return list(session.exec(q).all())


def list_rankings(
    session: Session,
    *,
    prompt_id: int | None = None,
    kind: str | None = None,
    judge: str | None = None,
    group_key: str | None = None,
    job_id: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[Ranking], int]:
    """A filtered page of rankings and the total count."""
    conds = equal_to(
        {
            Ranking.prompt_id: prompt_id,
            Ranking.kind: kind,
            Ranking.judge: judge,
            Ranking.group_key: group_key,
            Ranking.job_id: job_id,
        }
    )
    return page(session, Ranking, conds, order_by=Ranking.id, offset=offset, limit=limit)
