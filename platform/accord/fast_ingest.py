"""The import write path: store bundles written in batches with one prepared statement per
table and ``executemany``, idempotent by content hash, with judgment history.

It writes what ``accord.store.ingest.PreferenceIngestor`` writes for preference records, and
more: responses with lineage (critique and revision parents), the constitution versions
they refer to, judgments with their earlier values (lossless accord JSONL), batches bounded
by text size as well as by rows, and a refusal to relabel a judge's judgments with another
kind. Each table's statement is written once per import; bind conversions of the values
that repeat (``{}``, a batch's timestamp) are done once (figures: ``bench/bench_ingest.py``).

A :class:`StoreBundle` is one pair with everything it needs: the prompt, both responses and
their ancestors (lineage: critique and revision parents), and its judgments with history.
``bundle_from_preference`` turns an importer's ``PreferenceRecord`` into the same rows
``PreferenceIngestor`` would write.

>>> import tempfile
>>> from accord.store.db import open_store, session_scope
>>> from accord.store.ingest import PreferenceRecord
>>> engine = open_store(f"sqlite:///{tempfile.mkdtemp()}/store.db")
>>> bundle = bundle_from_preference(PreferenceRecord(prompt="2+2?", chosen="4", rejected="5"))
>>> with session_scope(engine) as s:
...     first = FastIngestor(s).ingest([bundle])
>>> with session_scope(engine) as s:
...     again = FastIngestor(s).ingest([bundle])
>>> first.judgments, again.judgments, again.unchanged
(1, 0, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, DateTime, Table, TypeDecorator, select
from sqlmodel import Session

from .store.bulk import ids_by_key
from .store.crud.annotators import get_or_create_annotator
from .store.crud.constitutions import upsert_constitution
from .store.crud.judgments import VALUE_FIELDS
from .store.crud.prompts import prompt_row
from .store.ingest import IngestCounts, PreferenceRecord, _judgment_row
from .store.keys import canonical_sides, pair_key, response_key
from .store.models import (
    Annotator,
    ConstitutionRow,
    Judgment,
    JudgmentRevision,
    Pair,
    Prompt,
    Response,
)
from .store.models._base import utcnow

_IN_CHUNK = 5_000


@dataclass
class StoreBundle:
    """One pair and what it needs, as store rows keyed by content hash (ids resolved on write).

    ``responses``: row dicts (``response_row`` columns without ``prompt_id``/``parent_id``/
    ``constitution_id``) plus ``parent_hash`` and ``constitution_hash``; parents come before
    their children. ``judgments``: ``Judgment`` column dicts without ``pair_id`` /
    ``annotator_id`` / ``constitution_id``, plus ``annotator`` (dict or None) and ``history``
    (earlier values, oldest first).
    """

    prompt: dict[str, Any]
    responses: list[dict[str, Any]]
    pair: dict[str, Any]  # a, b (canonical response hashes), content_hash, source, created_at
    judgments: list[dict[str, Any]] = field(default_factory=list)
    # Constitution versions the rows refer to (name, version, content_hash, text, description),
    # stored first so that responses and judgments link to them.
    constitutions: list[dict[str, Any]] = field(default_factory=list)

    def text_size(self) -> int:
        """Characters of text held (what dominates a bundle's memory)."""
        return (len(self.prompt["text"]) + sum(len(r["text"]) for r in self.responses)
                + sum(len(j.get("rationale") or "") + len(j.get("raw_output") or "")
                      for j in self.judgments))


def bundle_from_preference(rec: PreferenceRecord, *, job_id: int | None = None,
                           now: datetime | None = None) -> StoreBundle:
    """The rows ``PreferenceIngestor`` writes for ``rec`` (ValueError when they are invalid).
    ``now``: the creation time to record (one shared object per batch converts once)."""
    now = now or utcnow()
    prompt = prompt_row(text=rec.prompt, source=rec.source, messages=rec.prompt_messages,
                        meta=rec.prompt_meta)
    prompt["created_at"] = now
    ph = prompt["content_hash"]
    responses, hashes = [], []
    for text, msgs, model in ((rec.chosen, rec.chosen_messages, rec.chosen_model),
                              (rec.rejected, rec.rejected_messages, rec.rejected_model)):
        h = response_key(ph, text, model_id=model)
        hashes.append(h)
        responses.append({
            "text": text, "role": "initial", "model_id": model, "backend": "import",
            "content_hash": h, "sampling_params": {}, "usage": {}, "messages": msgs,
            "principle": "", "round": 0, "job_id": job_id, "raw_output": None,
            "finish_reason": None, "cache_key": None, "created_at": now,
            "parent_hash": "", "constitution_hash": "",
        })
    hc, hr = hashes
    if hc == hr:
        raise ValueError("chosen and rejected are the same response")
    a, b = canonical_sides(hc, hr)
    pk = pair_key(hc, hr)
    pair = {"a": a, "b": b, "content_hash": pk, "source": rec.source, "job_id": job_id,
            "created_at": now}
    judgments = []
    for spec in rec.all_judgments():
        row = _judgment_row(spec, chosen_is_a=hc <= hr, pair_hash=pk, pair_id=0,
                            source=rec.source, job_id=job_id, annotator_id=None, now=now)
        row["annotator"] = {"username": spec.annotator, "source": "import"} \
            if spec.annotator else None
        row["history"] = []
        judgments.append(row)
    return StoreBundle(prompt=prompt, responses=responses, pair=pair, judgments=judgments)


def _with_shortcuts(type_, dialect):
    """The column type's bind processor, minus repeated work: most JSON values are ``{}``
    and most timestamps of a batch are one object, so their conversions are reused."""
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    if proc is None:
        return None
    base = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    if isinstance(base, JSON):
        empty = proc({})
        return lambda v: empty if v == {} else proc(v)
    if isinstance(base, DateTime):
        last: list[Any] = [None, None]

        def run(v):
            if v is not last[0]:
                last[0], last[1] = v, proc(v)
            return last[1]
        return run
    return proc


class BulkWriter:
    """``INSERT … ON CONFLICT DO NOTHING`` through ``executemany`` with a cached statement."""

    def __init__(self, session: Session):
        self.session = session
        self.dialect = session.get_bind().dialect
        self._statements: dict[tuple, tuple[str, list]] = {}

    def _statement(self, table: Table, columns: tuple[str, ...], key: str | None):
        cache_key = (table.name, columns, key)
        if cache_key not in self._statements:
            quote = self.dialect.identifier_preparer.quote
            mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
            sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                   f"VALUES ({', '.join(mark for _ in columns)})")
            if key:
                sql += f" ON CONFLICT ({quote(key)}) DO NOTHING"
            procs = [_with_shortcuts(table.c[c].type, self.dialect) for c in columns]
            self._statements[cache_key] = (sql, procs)
        return self._statements[cache_key]

    def insert(self, table: Table, rows: list[dict[str, Any]], *, key: str | None = "content_hash",
               skip: tuple[str, ...] = ()) -> int:
        """Insert ``rows`` (all with the same keys; keys in ``skip`` are not columns);
        returns how many were new."""
        if not rows:
            return 0
        columns = tuple(c for c in rows[0] if c not in skip)
        sql, procs = self._statement(table, columns, key)
        getter = itemgetter(*columns)
        # None stays SQL NULL (a JSON None too), as in ``accord.store.bulk.insert_ignore``.
        converted = [(i, p) for i, p in enumerate(procs) if p is not None]
        params = []
        for row in rows:
            values = list(getter(row))
            for i, p in converted:
                if values[i] is not None:
                    values[i] = p(values[i])
            params.append(tuple(values))
        result = self.session.connection().exec_driver_sql(sql, params)
        return max(result.rowcount or 0, 0)


class FastIngestor:
    """Write bundles in batches inside the caller's session (one transaction)."""

    def __init__(self, session: Session, *, batch_size: int = 1000,
                 max_batch_chars: int = 2_000_000):
        self.session = session
        self.batch_size = batch_size
        # Long texts make a batch heavy: it is also flushed at this many characters of text,
        # which bounds the memory an import needs whatever the row sizes.
        self.max_batch_chars = max_batch_chars
        self.counts = IngestCounts()
        self.annotators = 0
        self.writer = BulkWriter(session)
        self._annotators: dict[str, int] = {}
        self._constitutions: dict[str, int | None] = {}

    def ingest(self, bundles: Iterable[StoreBundle]) -> IngestCounts:
        batch: list[StoreBundle] = []
        chars = 0
        for bundle in bundles:
            batch.append(bundle)
            chars += bundle.text_size()
            if len(batch) >= self.batch_size or chars >= self.max_batch_chars:
                self.flush(batch)
                batch, chars = [], 0
        if batch:
            self.flush(batch)
        return self.counts

    def _annotator_id(self, info: dict[str, Any] | None) -> int | None:
        if not info or not info.get("username"):
            return None
        name = info["username"]
        if name not in self._annotators:
            existing = self.session.execute(
                select(Annotator.id).where(Annotator.username == name)).scalar_one_or_none()
            annotator = get_or_create_annotator(
                self.session, username=name, source=info.get("source") or "import",
                external_id=info.get("external_id"), is_gold=bool(info.get("is_gold")))
            self.annotators += existing is None
            self._annotators[name] = annotator.id
        return self._annotators[name]

    def _constitution_id(self, content_hash: str) -> int | None:
        """Lineage to a constitution is kept when that version is in the store."""
        if not content_hash:
            return None
        if self._constitutions.get(content_hash) is None:
            self._constitutions[content_hash] = self.session.execute(
                select(ConstitutionRow.id).where(ConstitutionRow.content_hash == content_hash)
            ).scalar_one_or_none()
        return self._constitutions[content_hash]

    def flush(self, bundles: list[StoreBundle]) -> IngestCounts:
        s, w = self.session, self.writer
        counts = IngestCounts(records=len(bundles))
        for b in bundles:
            for c in b.constitutions:
                row = upsert_constitution(s, **c)
                self._constitutions[row.content_hash] = row.id
        prompts: dict[str, dict[str, Any]] = {}
        for b in bundles:
            prompts.setdefault(b.prompt["content_hash"], b.prompt)
        counts.prompts = w.insert(Prompt.__table__, list(prompts.values()))
        prompt_ids = ids_by_key(s, Prompt.__table__, prompts)

        # Responses level by level, so a parent's id is known before its children are written.
        pending: dict[str, tuple[dict[str, Any], str]] = {}
        for b in bundles:
            for r in b.responses:
                pending.setdefault(r["content_hash"], (r, b.prompt["content_hash"]))
        response_ids: dict[str, int] = {}
        while pending:
            ready = {h: v for h, v in pending.items()
                     if not v[0]["parent_hash"] or v[0]["parent_hash"] in response_ids}
            if not ready:
                missing = sorted({v[0]["parent_hash"] for v in pending.values()})[:3]
                raise ValueError(f"responses whose parents are missing: {missing}")
            parents = {v[0]["parent_hash"] for v in ready.values() if v[0]["parent_hash"]}
            response_ids.update(ids_by_key(s, Response.__table__,
                                           [p for p in parents if p not in response_ids]))
            rows = []
            for h, (row, ph) in ready.items():
                # Bundles are consumed by the write: their dicts take the ids in place.
                row["prompt_id"] = prompt_ids[ph]
                row["parent_id"] = response_ids[row["parent_hash"]] if row["parent_hash"] else None
                row["constitution_id"] = self._constitution_id(row["constitution_hash"])
                rows.append(row)
                del pending[h]
            counts.responses += w.insert(Response.__table__, rows,
                                         skip=("parent_hash", "constitution_hash"))
            response_ids.update(ids_by_key(s, Response.__table__, ready))

        pairs: dict[str, dict[str, Any]] = {}
        for b in bundles:
            p = b.pair
            pairs.setdefault(p["content_hash"], {
                "prompt_id": prompt_ids[b.prompt["content_hash"]],
                "response_a_id": response_ids[p["a"]], "response_b_id": response_ids[p["b"]],
                "source": p["source"], "content_hash": p["content_hash"],
                "job_id": p.get("job_id"), "created_at": p["created_at"]})
        counts.pairs = w.insert(Pair.__table__, list(pairs.values()))
        pair_ids = ids_by_key(s, Pair.__table__, pairs)

        judgments: dict[str, tuple[dict[str, Any], list]] = {}
        for b in bundles:
            pair_id = pair_ids[b.pair["content_hash"]]
            for row in b.judgments:
                row["pair_id"] = pair_id
                row["annotator_id"] = self._annotator_id(row["annotator"])
                row["constitution_id"] = self._constitution_id(row["constitution_hash"])
                judgments[row["key_hash"]] = (row, row["history"])
        self._write_judgments(judgments, counts)
        self.counts.add(counts)
        return counts

    def _write_judgments(self, judgments: dict[str, tuple[dict, list]], counts: IngestCounts) -> None:
        t = Judgment.__table__
        cols = [t.c.id, t.c.key_hash, t.c.kind, t.c.judge, t.c.updated_at,
                *(t.c[f] for f in VALUE_FIELDS)]
        keys = list(judgments)
        existing = {}
        for i in range(0, len(keys), _IN_CHUNK):
            for cur in self.session.execute(
                    select(*cols).where(t.c.key_hash.in_(keys[i:i + _IN_CHUNK]))).mappings():
                existing[cur["key_hash"]] = cur
        for k, cur in existing.items():
            if cur["kind"] != judgments[k][0]["kind"]:
                # The natural key leaves out the kind: the same judge cannot be both.
                raise ValueError(
                    f"judge {cur['judge']!r} already has {cur['kind']} judgments on these pairs; "
                    f"storing {judgments[k][0]['kind']} ones under the same name would relabel "
                    "them (import under another source name)")
        new_rows = [row for k, (row, _) in judgments.items() if k not in existing]
        counts.judgments = self.writer.insert(t, new_rows, key="key_hash",
                                              skip=("annotator", "history"))
        revisions = []
        with_history = [k for k, (_, hist) in judgments.items() if hist and k not in existing]
        if with_history:
            ids = ids_by_key(self.session, t, with_history, key="key_hash")
            for k in with_history:
                for old in judgments[k][1]:
                    revisions.append({**{f: old.get(f) for f in VALUE_FIELDS},
                                      "judgment_id": ids[k], "valid_from": old["valid_from"],
                                      "replaced_at": old["replaced_at"]})
        now = utcnow()
        for k, cur in existing.items():
            new = judgments[k][0]
            if all(cur[f] == new[f] for f in VALUE_FIELDS):
                counts.unchanged += 1
                continue
            revisions.append({**{f: cur[f] for f in VALUE_FIELDS}, "judgment_id": cur["id"],
                              "valid_from": cur["updated_at"], "replaced_at": now})
            self.session.execute(t.update().where(t.c.id == cur["id"]).values(
                **{f: new[f] for f in VALUE_FIELDS}, updated_at=now))
            counts.updated += 1
        self.writer.insert(JudgmentRevision.__table__, revisions, key=None)
