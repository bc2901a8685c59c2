"""Rankings in accord JSONL: a ranking line after the pair lines, and the link from each
expanded judgment to its ranking.

A pair line's judgment that a ranking expanded into names it by key (``"ranking": KEY``; the
ranking's key is part of the judgment's key, ``accord.store.keys.judgment_key``). After every
pair line, the writer puts one line per ranking whose expanded judgments were all written::

    {"accord": 1, "ranking": {"prompt": PROMPT_HASH, "responses": [RESPONSE_HASH, ...],
     "ranks": [1, 3, 2], "shown_order": [RESPONSE_HASH, ...], "kind": "human",
     "judge": "ann", "annotator": {"username": "ann", ...}, "scores": null, "meta": {},
     "method": "",
     "key_hash": KEY, ...}}

Responses are named by content hash (their texts and lineage are on the pair lines before),
in the ranking's canonical order (by content hash) with ``ranks`` and ``scores`` aligned;
``method`` (how an AI judge ranked: bradley-terry | listwise) is part of the key, and a line
without it (written before rankings had one) keeps the key it was written with;
``shown_order`` lists them as the ranker saw them (empty: unknown). On import, the pair
lines are stored first, then each ranking row is written as it was (who ranked, the shown
order, ties, scores, meta, times) and its expanded judgments, imported from the pair lines
with their answers and history, are linked to it. ``meta`` is copied as it is: ids in it
(e.g. the Bradley–Terry method's ``from_judgments``) name rows of the exporting store.

>>> line = {"prompt": "a" * 64, "responses": ["c" * 64, "b" * 64], "ranks": [2, 1],
...         "kind": "human", "judge": "ann"}
>>> r = ranking_from_line({"ranking": line})
>>> r.responses == ["b" * 64, "c" * 64], r.ranks
(True, [1, 2])
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from ..store.crud.annotators import get_or_create_annotator
from ..store.crud.rankings import dense_ranks
from ..store.keys import ranking_group_key, ranking_key
from ..store.models import Annotator, ConstitutionRow, Judgment, Prompt, Ranking, Response
from ..store.models._base import utcnow
from ..store.models.judgment import KINDS, STATUSES
from ..store.models.ranking import MAX_K, METHODS, MIN_K, method_error
from .base import (
    MAX_JUDGE_CHARS,
    MAX_PRINCIPLE_CHARS,
    FieldError,
    InvalidRecordError,
    iter_text_lines,
)

_W = "ranking"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ranking_line(
    r: Ranking,
    *,
    prompt_hash: str,
    hashes: dict[int, str],
    annotator: Annotator | None,
) -> dict[str, Any]:
    """The line of ranking ``r`` (``hashes``: response id → content hash)."""
    return {
        "accord": 1,
        "ranking": {
            "prompt": prompt_hash,
            "responses": [hashes[i] for i in r.response_ids],
            "ranks": list(r.ranks),
            "shown_order": [hashes[i] for i in r.shown_order],
            "scores": r.scores,
            "kind": r.kind,
            "judge": r.judge,
            "principle": r.principle,
            "constitution_hash": r.constitution_hash,
            "judge_backend": r.judge_backend,
            "method": r.method,
            "status": r.status,
            "rationale": r.rationale,
            "source": r.source,
            "external_id": r.external_id,
            "meta": r.meta or {},
            "created_at": _time(r.created_at),
            "updated_at": _time(r.updated_at),
            "key_hash": r.key_hash,
            "group_key": r.group_key,
            "annotator": None
            if annotator is None
            else {
                "username": annotator.username,
                "source": annotator.source,
                "external_id": annotator.external_id,
                "is_gold": annotator.is_gold,
            },
        },
    }


@dataclass
class RankingLine:
    """A ranking line, checked (responses in canonical order, ranks dense)."""

    prompt: str
    responses: list[str]
    ranks: list[int]
    shown_order: list[str]
    scores: list[float] | None
    kind: str
    judge: str
    principle: str = ""
    constitution_hash: str = ""
    judge_backend: str = ""
    method: str = ""
    status: str = "submitted"
    rationale: str | None = None
    source: str = ""
    external_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    annotator: dict[str, Any] | None = None
    key_hash: str = ""
    group_key: str = ""


def _hash(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) != 64:
        raise FieldError(where, "must be a 64-character content hash")
    return value


def _method(row: dict[str, Any], kind: str) -> str:
    method = _str(row, "method", 32)
    problem = method_error(kind, method)
    if problem:
        raise FieldError(f"{_W}.method", problem)
    return method


def _str(row: dict[str, Any], name: str, max_chars: int, default: str = "") -> str:
    value = row.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > max_chars:
        raise FieldError(f"{_W}.{name}", f"must be a string of at most {max_chars} characters")
    return value


def _when(row: dict[str, Any], name: str) -> datetime | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise FieldError(f"{_W}.{name}", f"not an ISO date and time: {value!r}") from None


def ranking_from_line(row: dict[str, Any], upgrade: dict[str, str] | None = None) -> RankingLine:
    """The ranking of a ranking line (``FieldError`` naming the field). ``upgrade``
    (``legacy_ranking_keys``) maps the key of a line written before rankings had a method to
    its key with the method, which the line then gets."""
    r = row.get(_W)
    if not isinstance(r, dict):
        raise FieldError(_W, "must be an object")
    responses = r.get("responses")
    if not isinstance(responses, list) or not MIN_K <= len(responses) <= MAX_K:
        raise FieldError(f"{_W}.responses", f"must list {MIN_K} to {MAX_K} response hashes")
    hashes = [_hash(h, f"{_W}.responses[{i}]") for i, h in enumerate(responses)]
    if len(set(hashes)) != len(hashes):
        raise FieldError(f"{_W}.responses", "a ranking needs K different responses")
    ranks = r.get("ranks")
    if not isinstance(ranks, list) or len(ranks) != len(hashes):
        raise FieldError(f"{_W}.ranks", f"must list one rank per response ({len(hashes)})")
    try:
        ranks = dense_ranks(ranks, field=f"{_W}.ranks")
    except ValueError as exc:
        raise FieldError(f"{_W}.ranks", str(exc)) from None
    scores = r.get("scores")
    if scores is not None and (
        not isinstance(scores, list)
        or len(scores) != len(hashes)
        or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in scores
        )
    ):
        raise FieldError(f"{_W}.scores", "must be null or one finite number per response")
    shown = r.get("shown_order") or []
    if (
        not isinstance(shown, list)
        or not all(isinstance(h, str) for h in shown)
        or (shown and sorted(shown) != sorted(hashes))
    ):
        raise FieldError(f"{_W}.shown_order", "must list each ranked response exactly once")
    kind = r.get("kind")
    if kind not in KINDS:
        raise FieldError(f"{_W}.kind", f"must be one of {KINDS}, got {kind!r}")
    status = r.get("status") or "submitted"
    if status not in STATUSES:
        raise FieldError(f"{_W}.status", f"must be one of {STATUSES}, got {status!r}")
    judge = _str(r, "judge", MAX_JUDGE_CHARS)
    if not judge:
        raise FieldError(f"{_W}.judge", "missing")
    meta = r.get("meta") or {}
    if not isinstance(meta, dict):
        raise FieldError(f"{_W}.meta", "must be an object")
    annotator = r.get("annotator")
    if annotator is not None and (
        not isinstance(annotator, dict) or not isinstance(annotator.get("username"), str)
    ):
        raise FieldError(f"{_W}.annotator", "must be null or an object with a username")
    rationale = r.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        raise FieldError(f"{_W}.rationale", "must be a string")
    order = sorted(range(len(hashes)), key=hashes.__getitem__)  # canonical: by content hash
    line = RankingLine(
        prompt=_hash(r.get("prompt"), f"{_W}.prompt"),
        responses=[hashes[i] for i in order],
        ranks=dense_ranks([ranks[i] for i in order]),
        shown_order=list(shown),
        scores=[float(scores[i]) for i in order] if scores is not None else None,
        kind=kind,
        judge=judge,
        principle=_str(r, "principle", MAX_PRINCIPLE_CHARS),
        constitution_hash=_str(r, "constitution_hash", 64),
        judge_backend=_str(r, "judge_backend", 32),
        method=_method(r, kind),
        status=status,
        rationale=rationale,
        source=_str(r, "source", 300),
        external_id=_str(r, "external_id", 100) or None,
        meta=meta,
        created_at=_when(r, "created_at"),
        updated_at=_when(r, "updated_at"),
        annotator=annotator,
    )
    line.group_key = ranking_group_key(line.prompt, line.responses)
    line.key_hash = ranking_key(
        line.group_key,
        line.judge,
        kind=line.kind,
        principle=line.principle,
        constitution_hash=line.constitution_hash,
        method=line.method,
    )
    given = r.get("key_hash")
    if given not in (None, "") and given != line.key_hash:
        raise FieldError(
            f"{_W}.key_hash", "does not match the content (edited without updating it?)"
        )
    if upgrade and "method" not in r and line.key_hash in upgrade:
        line.method, line.key_hash = r["meta"]["method"], upgrade[line.key_hash]
    return line


_RANKING_LINE = re.compile(r'"ranking"\s*:\s*\{')


def legacy_ranking_keys(path: Path) -> dict[str, str]:
    """For a file written before rankings had a method: the key of each AI ranking line that
    has no ``method`` field but whose ``meta`` names one (as the ``rank`` step always wrote
    it) → the key with that method, which a store migrated to 0011 gives the same ranking.

    Importing maps such a ranking and the judgments it expanded into (their keys hold the
    ranking's) to the new keys, so an old export finds its rows in a migrated store instead
    of adding them again. Lines that do not read are left to the import to report.
    """
    out: dict[str, str] = {}
    for _, _, text, _ in iter_text_lines(path):
        if text is None or not _RANKING_LINE.search(text):
            continue
        try:
            row = json.loads(text)
            r = row.get(_W) if isinstance(row, dict) and "prompt" not in row else None
            if not isinstance(r, dict) or "method" in r or r.get("kind") != "ai":
                continue
            meta = r.get("meta")
            method = meta.get("method") if isinstance(meta, dict) else None
            if method not in METHODS:
                continue
            line = ranking_from_line(row)
        except ValueError:  # bad JSON or a bad field: the import reports the line
            continue
        out[line.key_hash] = ranking_key(
            line.group_key,
            line.judge,
            kind=line.kind,
            principle=line.principle,
            constitution_hash=line.constitution_hash,
            method=method,
        )
    return out


def store_rankings(
    session: Session,
    lines: list[tuple[int, RankingLine]],
    links: dict[str, list[str]],
    path: Path,
) -> int:
    """Write the ranking rows of ``lines`` (``(line number, ranking)``; the pair lines are
    stored already) and link the judgments ``links`` names (ranking key → judgment keys) to
    their rankings. Returns how many rankings are new."""
    new = 0
    for number, r in lines:
        ids = dict(
            session.execute(
                select(Response.content_hash, Response.id).where(
                    Response.content_hash.in_(r.responses)
                )
            ).all()
        )
        missing = [h for h in r.responses if h not in ids]
        if missing:
            raise InvalidRecordError(
                path,
                number,
                f"{_W}.responses",
                f"no response {missing[0][:12]}… in the file or store",
            )
        prompt_id = session.execute(
            select(Prompt.id).where(Prompt.content_hash == r.prompt)
        ).scalar_one_or_none()
        if prompt_id is None:
            raise InvalidRecordError(
                path, number, f"{_W}.prompt", "no such prompt in the file or store"
            )
        annotator_id = None
        if r.annotator:
            a = r.annotator
            annotator_id = get_or_create_annotator(
                session,
                username=a["username"],
                source=a.get("source") or "import",
                external_id=a.get("external_id"),
                is_gold=bool(a.get("is_gold")),
            ).id
        constitution_id = (
            session.execute(
                select(ConstitutionRow.id).where(
                    ConstitutionRow.content_hash == r.constitution_hash
                )
            ).scalar_one_or_none()
            if r.constitution_hash
            else None
        )
        values = {
            "ranks": r.ranks,
            "shown_order": [ids[h] for h in r.shown_order],
            "status": r.status,
            "scores": r.scores,
            "rationale": r.rationale,
            "meta": r.meta,
        }
        existing = session.execute(
            select(Ranking).where(Ranking.key_hash == r.key_hash)
        ).scalar_one_or_none()
        if existing is None:
            created = r.created_at or utcnow()
            session.add(
                Ranking(
                    prompt_id=prompt_id,
                    kind=r.kind,
                    judge=r.judge,
                    principle=r.principle,
                    k=len(r.responses),
                    response_ids=[ids[h] for h in r.responses],
                    key_hash=r.key_hash,
                    group_key=r.group_key,
                    annotator_id=annotator_id,
                    judge_backend=r.judge_backend,
                    method=r.method,
                    constitution_id=constitution_id,
                    constitution_hash=r.constitution_hash,
                    source=r.source,
                    external_id=r.external_id,
                    created_at=created,
                    updated_at=r.updated_at or created,
                    **values,
                )
            )
            new += 1
        elif any(getattr(existing, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(existing, f, v)
            existing.updated_at = r.updated_at or utcnow()
            session.add(existing)
    session.flush()
    for key, judgment_keys in links.items():
        ranking_id = session.execute(
            select(Ranking.id).where(Ranking.key_hash == key)
        ).scalar_one_or_none()
        if ranking_id is None:
            continue  # the file carries a ranking's judgments but not the ranking
        for start in range(0, len(judgment_keys), 500):
            session.execute(
                update(Judgment)
                .where(Judgment.key_hash.in_(judgment_keys[start : start + 500]))
                .values(ranking_id=ranking_id)
            )
    return new
