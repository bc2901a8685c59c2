"""Batched, idempotent ingest of preference data: the fast path for imports and pulls.

Rows are buffered and written in batches with ``INSERT … ON CONFLICT DO NOTHING`` on their
natural keys, so the same data ingested twice adds 0 rows. A judgment whose key exists with a
different value is updated and its old value kept in ``JudgmentRevision``.

>>> from accord.store.db import open_store, session_scope
>>> engine = open_store("sqlite://")
>>> rec = PreferenceRecord(prompt="2+2?", chosen="4", rejected="5", source="doc")
>>> with session_scope(engine) as s:
...     first = PreferenceIngestor(s).ingest([rec])
>>> with session_scope(engine) as s:
...     again = PreferenceIngestor(s).ingest([rec])
>>> first.judgments, again.judgments, again.unchanged
(1, 0, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from .bulk import ids_by_key, insert_ignore
from .crud.annotators import get_or_create_annotator
from .crud.judgments import VALUE_FIELDS, preferred_from_prob, validate_judgment_values
from .crud.prompts import prompt_row
from .keys import canonical_sides, judgment_key, pair_key, response_key
from .models import Judgment, JudgmentRevision, Pair, Prompt, Response
from .models._base import utcnow


@dataclass
class JudgmentSpec:
    """One label on a pair, with sides given as chosen/rejected of the record (not a/b)."""

    kind: str = "human"
    judge: str = ""
    prob_chosen: float | None = None  # P(chosen ≻ rejected); None: a hard label
    tie: bool = False
    presentation_order: str = ""  # "" | "chosen_first" | "rejected_first" | "ab" | "ba"
    principle: str = ""
    constitution_hash: str = ""
    strength: int | None = None
    rationale: str | None = None
    raw_output: str | None = None
    status: str = "submitted"
    is_aggregate: bool = False
    annotator: str | None = None
    external_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreferenceRecord:
    """A prompt, two responses and the judgments saying which is better."""

    prompt: str
    chosen: str
    rejected: str
    prompt_messages: list[dict[str, Any]] | None = None
    chosen_messages: list[dict[str, Any]] | None = None
    rejected_messages: list[dict[str, Any]] | None = None
    chosen_model: str = ""
    rejected_model: str = ""
    source: str = ""
    prompt_meta: dict[str, Any] = field(default_factory=dict)
    judgments: list[JudgmentSpec] | None = None
    # Shorthand for one judgment when ``judgments`` is None:
    kind: str = "human"
    judge: str = ""
    prob_chosen: float | None = None
    tie: bool = False

    def all_judgments(self) -> list[JudgmentSpec]:
        if self.judgments is not None:
            return self.judgments
        return [JudgmentSpec(kind=self.kind, judge=self.judge or f"import:{self.source}",
                             prob_chosen=self.prob_chosen, tie=self.tie)]


@dataclass
class IngestCounts:
    prompts: int = 0
    responses: int = 0
    pairs: int = 0
    judgments: int = 0
    updated: int = 0
    unchanged: int = 0
    records: int = 0

    def add(self, other: "IngestCounts") -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


class PreferenceIngestor:
    """Write preference records in batches inside the caller's session (one transaction)."""

    def __init__(self, session: Session, *, job_id: int | None = None, batch_size: int = 5000):
        self.session = session
        self.job_id = job_id
        self.batch_size = batch_size
        self.counts = IngestCounts()
        self._annotators: dict[str, int] = {}

    def ingest(self, records: Iterable[PreferenceRecord]) -> IngestCounts:
        batch: list[PreferenceRecord] = []
        for rec in records:
            batch.append(rec)
            if len(batch) >= self.batch_size:
                self.flush(batch)
                batch = []
        if batch:
            self.flush(batch)
        return self.counts

    def _annotator_id(self, username: str | None) -> int | None:
        if not username:
            return None
        if username not in self._annotators:
            self._annotators[username] = get_or_create_annotator(
                self.session, username=username, source="import").id
        return self._annotators[username]

    def flush(self, records: list[PreferenceRecord]) -> IngestCounts:
        s = self.session
        counts = IngestCounts(records=len(records))
        prompt_rows: dict[str, dict[str, Any]] = {}
        rec_prompt: list[str] = []
        for rec in records:
            row = prompt_row(text=rec.prompt, source=rec.source, messages=rec.prompt_messages,
                             meta=rec.prompt_meta)
            prompt_rows.setdefault(row["content_hash"], row)
            rec_prompt.append(row["content_hash"])
        counts.prompts = insert_ignore(s, Prompt.__table__, list(prompt_rows.values()))
        prompt_ids = ids_by_key(s, Prompt.__table__, prompt_rows)

        resp_rows: dict[str, dict[str, Any]] = {}
        rec_resp: list[tuple[str, str]] = []
        for rec, ph in zip(records, rec_prompt):
            hashes = []
            for text, msgs, model in ((rec.chosen, rec.chosen_messages, rec.chosen_model),
                                      (rec.rejected, rec.rejected_messages, rec.rejected_model)):
                h = response_key(ph, text, model_id=model)
                resp_rows.setdefault(h, {
                    "text": text, "role": "initial", "model_id": model,
                    "backend": "import", "prompt_id": prompt_ids[ph], "parent_id": None,
                    "content_hash": h, "sampling_params": {}, "usage": {}, "messages": msgs,
                    "constitution_id": None, "principle": "", "round": 0,
                    "job_id": self.job_id, "raw_output": None, "finish_reason": None,
                    "cache_key": None, "created_at": utcnow(),
                })
                hashes.append(h)
            rec_resp.append((hashes[0], hashes[1]))
        counts.responses = insert_ignore(s, Response.__table__, list(resp_rows.values()))
        resp_ids = ids_by_key(s, Response.__table__, resp_rows)

        pair_rows: dict[str, dict[str, Any]] = {}
        rec_pair: list[str] = []
        for rec, ph, (hc, hr) in zip(records, rec_prompt, rec_resp):
            if hc == hr:
                raise ValueError("chosen and rejected are the same response")
            a, b = canonical_sides(hc, hr)
            key = pair_key(hc, hr)
            pair_rows.setdefault(key, {
                "prompt_id": prompt_ids[ph], "response_a_id": resp_ids[a],
                "response_b_id": resp_ids[b], "source": rec.source, "content_hash": key,
                "job_id": self.job_id, "created_at": utcnow(),
            })
            rec_pair.append(key)
        counts.pairs = insert_ignore(s, Pair.__table__, list(pair_rows.values()))
        pair_ids = ids_by_key(s, Pair.__table__, pair_rows)

        judgment_rows: dict[str, dict[str, Any]] = {}
        now = utcnow()
        for rec, (hc, hr), pk in zip(records, rec_resp, rec_pair):
            chosen_is_a = hc <= hr
            for spec in rec.all_judgments():
                row = _judgment_row(spec, chosen_is_a=chosen_is_a, pair_hash=pk,
                                    pair_id=pair_ids[pk], source=rec.source, job_id=self.job_id,
                                    annotator_id=self._annotator_id(spec.annotator), now=now)
                judgment_rows[row["key_hash"]] = row
        rows = list(judgment_rows.values())
        counts.judgments = insert_ignore(s, Judgment.__table__, rows, key="key_hash")
        if counts.judgments < len(rows):
            counts.updated, counts.unchanged = self._update_changed(rows, len(rows) - counts.judgments)
        self.counts.add(counts)
        return counts

    def _update_changed(self, rows: list[dict[str, Any]], n_existing: int) -> tuple[int, int]:
        """Rows whose key existed before this batch: update the changed ones, with history."""
        s = self.session
        t = Judgment.__table__
        by_key = {r["key_hash"]: r for r in rows}
        cols = [t.c.id, t.c.key_hash, t.c.updated_at, *(t.c[f] for f in VALUE_FIELDS)]
        updated = 0
        keys = list(by_key)
        for i in range(0, len(keys), 5000):
            for cur in s.execute(select(*cols).where(t.c.key_hash.in_(keys[i:i + 5000]))).mappings():
                new = by_key[cur["key_hash"]]
                if all(cur[f] == new[f] for f in VALUE_FIELDS):
                    continue
                s.add(JudgmentRevision(judgment_id=cur["id"], valid_from=cur["updated_at"],
                                       **{f: cur[f] for f in VALUE_FIELDS}))
                s.execute(update(t).where(t.c.id == cur["id"]).values(
                    **{f: new[f] for f in VALUE_FIELDS}, updated_at=utcnow()))
                updated += 1
        return updated, n_existing - updated


def _judgment_row(spec: JudgmentSpec, *, chosen_is_a: bool, pair_hash: str, pair_id: int,
                  source: str, job_id: int | None, annotator_id: int | None, now) -> dict[str, Any]:
    if spec.tie:
        prob_a, preferred = 0.5, "tie"
    elif spec.prob_chosen is None:
        prob_a, preferred = None, ("a" if chosen_is_a else "b")
    else:
        prob_a = spec.prob_chosen if chosen_is_a else 1.0 - spec.prob_chosen
        preferred = preferred_from_prob(prob_a)
    if spec.status == "discarded":
        preferred = None
    order = spec.presentation_order
    if order in ("chosen_first", "rejected_first"):
        order = "ab" if (order == "chosen_first") == chosen_is_a else "ba"
    validate_judgment_values(kind=spec.kind, preferred=preferred, prob_a=prob_a,
                             presentation_order=order, status=spec.status)
    judge = spec.judge or (spec.annotator or f"import:{source}")
    return {
        "pair_id": pair_id, "kind": spec.kind, "judge": judge, "principle": spec.principle,
        "presentation_order": order, "preferred": preferred, "prob_a": prob_a,
        "strength": spec.strength, "rationale": spec.rationale, "status": spec.status,
        "is_aggregate": spec.is_aggregate,
        "key_hash": judgment_key(pair_hash, judge, presentation_order=order,
                                 principle=spec.principle, constitution_hash=spec.constitution_hash),
        "annotator_id": annotator_id, "judge_backend": "import" if spec.kind == "ai" else "",
        "constitution_id": None, "constitution_hash": spec.constitution_hash,
        "raw_output": spec.raw_output, "source": source, "external_id": spec.external_id,
        "job_id": job_id, "meta": spec.meta, "created_at": now, "updated_at": now,
    }
