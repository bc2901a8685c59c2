"""Write pairs of a store as accord JSONL (see ``accord_jsonl``): everything needed to
rebuild them in another store with the same content hashes, and after them the rankings
whose expanded judgments were all written (``accord_rankings``).

Pairs are read in id order, a chunk at a time, so exporting a large store needs memory for
one chunk only.

>>> import pathlib, tempfile
>>> from accord.store.db import open_store, session_scope
>>> from accord.store.ingest import PreferenceIngestor, PreferenceRecord
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> engine = open_store(f"sqlite:///{folder}/store.db")
>>> with session_scope(engine) as s:
...     _ = PreferenceIngestor(s).ingest(
...         [PreferenceRecord(prompt="2+2?", chosen="4", rejected="5", source="doc")])
>>> write_accord_jsonl(engine, folder / "out.jsonl")
1
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..store.models import (
    Annotator,
    ConstitutionRow,
    Judgment,
    JudgmentRevision,
    Pair,
    Prompt,
    Ranking,
    Response,
)
from .accord_rankings import ranking_line

CHUNK = 1000


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _prompt(p: Prompt) -> dict[str, Any]:
    return {
        "text": p.text,
        "messages": p.messages,
        "source": p.source,
        "meta": p.meta or {},
        "content_hash": p.content_hash,
        "created_at": _time(p.created_at),
    }


def _response(r: Response, by_id: dict[int, Response], chashes: dict[int, str]) -> dict[str, Any]:
    return {
        "text": r.text,
        "role": r.role,
        "model_id": r.model_id,
        "backend": r.backend,
        "sampling_params": r.sampling_params or {},
        "messages": r.messages,
        "principle": r.principle,
        "round": r.round,
        "raw_output": r.raw_output,
        "finish_reason": r.finish_reason,
        "usage": r.usage or {},
        "cache_key": r.cache_key,
        "constitution_hash": chashes.get(r.constitution_id, "") if r.constitution_id else "",
        "created_at": _time(r.created_at),
        "content_hash": r.content_hash,
        "parent": _response(by_id[r.parent_id], by_id, chashes) if r.parent_id else None,
    }


def _answer(x: Judgment | JudgmentRevision) -> dict[str, Any]:
    return {
        "preferred": x.preferred,
        "prob_a": x.prob_a,
        "strength": x.strength,
        "rationale": x.rationale,
        "status": x.status,
    }


def _judgment(
    j: Judgment,
    annotators: dict[int, Annotator],
    history: list[JudgmentRevision],
    chashes: dict[int, str],
    ranking_keys: dict[int, str],
) -> dict[str, Any]:
    ann = annotators.get(j.annotator_id) if j.annotator_id else None
    line = {
        "kind": j.kind,
        "judge": j.judge,
        "principle": j.principle,
        "presentation_order": j.presentation_order,
        **_answer(j),
        "is_aggregate": j.is_aggregate,
        "judge_backend": j.judge_backend,
        "constitution_hash": j.constitution_hash or chashes.get(j.constitution_id or -1, ""),
        "raw_output": j.raw_output,
        "source": j.source,
        "external_id": j.external_id,
        "meta": j.meta or {},
        "created_at": _time(j.created_at),
        "updated_at": _time(j.updated_at),
        "key_hash": j.key_hash,
        "annotator": None
        if ann is None
        else {
            "username": ann.username,
            "source": ann.source,
            "external_id": ann.external_id,
            "is_gold": ann.is_gold,
        },
        "history": [
            {**_answer(h), "valid_from": _time(h.valid_from), "replaced_at": _time(h.replaced_at)}
            for h in history
        ],
    }
    if j.ranking_id is not None:
        line["ranking"] = ranking_keys[j.ranking_id]
    return line


def _lines(
    s: Session, pairs: list[Pair], written: set[int], expanded: dict[int, int]
) -> Iterable[dict[str, Any]]:
    """The lines of ``pairs``; constitutions not in ``written`` yet go on the first line
    that refers to them. ``expanded`` counts the written judgments of each ranking."""
    prompts = {
        p.id: p
        for p in s.scalars(select(Prompt).where(Prompt.id.in_({p.prompt_id for p in pairs})))
    }
    responses: dict[int, Response] = {}
    todo = {i for p in pairs for i in (p.response_a_id, p.response_b_id)}
    while todo:
        rows = list(s.scalars(select(Response).where(Response.id.in_(sorted(todo)))))
        responses.update({r.id: r for r in rows})
        todo = {r.parent_id for r in rows if r.parent_id and r.parent_id not in responses}
    judgments: dict[int, list[Judgment]] = {}
    for j in s.scalars(
        select(Judgment).where(Judgment.pair_id.in_([p.id for p in pairs])).order_by(Judgment.id)
    ):
        judgments.setdefault(j.pair_id, []).append(j)
    all_j = [j for js in judgments.values() for j in js]
    history: dict[int, list[JudgmentRevision]] = {}
    if all_j:
        for h in s.scalars(
            select(JudgmentRevision)
            .where(JudgmentRevision.judgment_id.in_([j.id for j in all_j]))
            .order_by(JudgmentRevision.id)
        ):
            history.setdefault(h.judgment_id, []).append(h)
    ranking_ids = {j.ranking_id for j in all_j if j.ranking_id is not None}
    ranking_keys = (
        dict(
            s.execute(select(Ranking.id, Ranking.key_hash).where(Ranking.id.in_(ranking_ids))).all()
        )
        if ranking_ids
        else {}
    )
    for j in all_j:
        if j.ranking_id is not None:
            expanded[j.ranking_id] = expanded.get(j.ranking_id, 0) + 1
    ann_ids = {j.annotator_id for j in all_j if j.annotator_id}
    annotators = (
        {a.id: a for a in s.scalars(select(Annotator).where(Annotator.id.in_(ann_ids)))}
        if ann_ids
        else {}
    )
    c_ids = {r.constitution_id for r in responses.values() if r.constitution_id} | {
        j.constitution_id for j in all_j if j.constitution_id
    }
    constitutions = (
        {c.id: c for c in s.scalars(select(ConstitutionRow).where(ConstitutionRow.id.in_(c_ids)))}
        if c_ids
        else {}
    )
    chashes = {i: c.content_hash for i, c in constitutions.items()}
    for p in pairs:
        used = {r.constitution_id for r in _with_ancestors(responses, p) if r.constitution_id}
        used |= {j.constitution_id for j in judgments.get(p.id, []) if j.constitution_id}
        new = sorted(used - written)
        written.update(new)
        yield {
            "accord": 1,
            "prompt": _prompt(prompts[p.prompt_id]),
            "response_a": _response(responses[p.response_a_id], responses, chashes),
            "response_b": _response(responses[p.response_b_id], responses, chashes),
            "pair": {
                "source": p.source,
                "content_hash": p.content_hash,
                "created_at": _time(p.created_at),
            },
            "judgments": [
                _judgment(j, annotators, history.get(j.id, []), chashes, ranking_keys)
                for j in judgments.get(p.id, [])
            ],
            "constitutions": [
                {
                    "name": c.name,
                    "version": c.version,
                    "content_hash": c.content_hash,
                    "text": c.text,
                    "description": c.description,
                }
                for c in (constitutions[i] for i in new)
            ],
        }


def _with_ancestors(responses: dict[int, Response], pair: Pair) -> Iterable[Response]:
    for rid in (pair.response_a_id, pair.response_b_id):
        while rid:
            yield responses[rid]
            rid = responses[rid].parent_id


def write_accord_jsonl(
    engine: Engine, path: str | Path, *, pair_ids: Iterable[int] | None = None
) -> int:
    """Write the pairs (all, or ``pair_ids``) to ``path``, then the rankings all of whose
    expanded judgments are on those pairs; returns the number of lines."""
    wanted = sorted(set(pair_ids)) if pair_ids is not None else None
    written = 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    constitutions_written: set[int] = set()
    expanded: dict[int, int] = {}  # ranking id -> its judgments written
    with Session(engine) as s, open(path, "w", encoding="utf-8") as out:
        last = 0
        while True:
            if wanted is None:
                pairs = list(
                    s.scalars(select(Pair).where(Pair.id > last).order_by(Pair.id).limit(CHUNK))
                )
            else:
                ids = wanted[written : written + CHUNK]
                pairs = (
                    list(s.scalars(select(Pair).where(Pair.id.in_(ids)).order_by(Pair.id)))
                    if ids
                    else []
                )
                if ids and len(pairs) != len(ids):
                    missing = sorted(set(ids) - {p.id for p in pairs})[:5]
                    raise ValueError(f"no such pairs: {missing}")
            if not pairs:
                return written + _write_rankings(s, out, expanded)
            out.writelines(
                json.dumps(line, ensure_ascii=False) + "\n"
                for line in _lines(s, pairs, constitutions_written, expanded)
            )
            written += len(pairs)
            last = pairs[-1].id
            s.expunge_all()


def _write_rankings(s: Session, out, expanded: dict[int, int]) -> int:
    """The ranking lines of the rankings whose judgments were all written, by id."""
    ids = sorted(expanded)
    written = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        totals = dict(
            s.execute(
                select(Judgment.ranking_id, func.count())
                .where(Judgment.ranking_id.in_(chunk))
                .group_by(Judgment.ranking_id)
            ).all()
        )
        rankings = [
            r
            for r in s.scalars(select(Ranking).where(Ranking.id.in_(chunk)).order_by(Ranking.id))
            if totals.get(r.id) == expanded[r.id]
        ]
        rids = {i for r in rankings for i in r.response_ids}
        hashes = dict(
            s.execute(select(Response.id, Response.content_hash).where(Response.id.in_(rids))).all()
        )
        prompts = dict(
            s.execute(
                select(Prompt.id, Prompt.content_hash).where(
                    Prompt.id.in_({r.prompt_id for r in rankings})
                )
            ).all()
        )
        ann_ids = {r.annotator_id for r in rankings if r.annotator_id}
        annotators = (
            {a.id: a for a in s.scalars(select(Annotator).where(Annotator.id.in_(ann_ids)))}
            if ann_ids
            else {}
        )
        for r in rankings:
            line = ranking_line(
                r,
                prompt_hash=prompts[r.prompt_id],
                hashes=hashes,
                annotator=annotators.get(r.annotator_id) if r.annotator_id else None,
            )
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
        s.expunge_all()
    return written
