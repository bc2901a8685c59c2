"""The store's batched write path: every import, pull and bulk write goes through it.

:class:`StoreIngestor` writes :class:`~accord.store.bundles.StoreBundle` s in batches (bounded
by rows and by characters of text) inside the caller's session, one transaction:

- prompts, responses (level by level, so critique and revision parents get their ids before
  their children), pairs: ``INSERT … ON CONFLICT (content_hash) DO NOTHING RETURNING``, so the
  same data written twice adds 0 rows, and the ids of new rows come back with the insert;
  only rows that were already there are looked up;
- judgments, keyed by ``accord.store.keys.judgment_key`` (pair, judge, kind, order, principle,
  constitution version): a judgment on a new pair is new, so nothing is read back for it;
  on pairs that existed, a key that exists with the same answer counts as unchanged, with a
  different answer it is updated and its old answer kept in ``JudgmentRevision``; earlier
  answers carried by a bundle (lossless imports) become its history;
- a judge identity stored as ``human`` is never stored as ``ai`` on the same pair (or the
  reverse): that would relabel the same answers (ValueError, nothing written by the caller's
  transaction).

:class:`PreferenceIngestor` takes :class:`PreferenceRecord` s (the shape format readers
produce) and writes them through the same engine.

>>> import tempfile
>>> from accord.store.db import open_store, session_scope
>>> engine = open_store(f"sqlite:///{tempfile.mkdtemp()}/store.db")
>>> rec = PreferenceRecord(prompt="2+2?", chosen="4", rejected="5", source="doc")
>>> with session_scope(engine) as s:
...     first = PreferenceIngestor(s).ingest([rec])
>>> with session_scope(engine) as s:
...     again = StoreIngestor(s).ingest([bundle_from_preference(rec)])
>>> first.judgments, again.judgments, again.unchanged
(1, 0, 1)
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from .bulk import BulkWriter
from .bundles import (
    JUDGMENT_FIELDS,
    PROMPT_FIELDS,
    RESPONSE_FIELDS,
    JudgmentSpec,
    PreferenceRecord,
    StoreBundle,
    bundle_from_preference,
)
from .crud.annotators import get_or_create_annotator
from .crud.constitutions import upsert_constitution
from .crud.judgments import VALUE_FIELDS
from .models import Annotator, ConstitutionRow, Judgment, JudgmentRevision, Pair, Prompt, Response
from .models._base import utcnow

__all__ = [
    "IngestCounts",
    "JudgmentSpec",
    "PreferenceIngestor",
    "PreferenceRecord",
    "StoreBundle",
    "StoreIngestor",
    "bundle_from_preference",
]

_PROMPT = itemgetter(*PROMPT_FIELDS)
_RESPONSE = itemgetter(*RESPONSE_FIELDS)
_JUDGMENT = itemgetter(*JUDGMENT_FIELDS)
_VALUES = itemgetter(*VALUE_FIELDS)
_KIND = itemgetter("kind")
_KEY = itemgetter("key_hash")
_ANNOTATOR = itemgetter("annotator")
_CONSTITUTION = itemgetter("constitution_hash")
_HISTORY = itemgetter("history")
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
RESPONSE_COLUMNS = ("prompt_id", "parent_id", "constitution_id", *RESPONSE_FIELDS)
PAIR_COLUMNS = (
    "prompt_id",
    "response_a_id",
    "response_b_id",
    "source",
    "content_hash",
    "job_id",
    "created_at",
)
JUDGMENT_COLUMNS = ("pair_id", "annotator_id", "constitution_id", *JUDGMENT_FIELDS)
REVISION_COLUMNS = ("judgment_id", *VALUE_FIELDS, "valid_from", "replaced_at")
# What identifies a judge's judgment on a pair, apart from its kind.
_EXISTING_COLUMNS = (
    "key_hash",
    "id",
    "pair_id",
    "kind",
    "judge",
    "presentation_order",
    "principle",
    "constitution_hash",
    *VALUE_FIELDS,
)


@dataclass
class IngestCounts:
    """New rows per table, judgments updated or unchanged, records written."""

    prompts: int = 0
    responses: int = 0
    pairs: int = 0
    judgments: int = 0
    updated: int = 0
    unchanged: int = 0
    records: int = 0
    annotators: int = 0

    def add(self, other: IngestCounts) -> None:
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the automatic cyclic garbage collector while batches are built and written.

    A batch allocates a few hundred thousand dicts, tuples and lists, enough to trigger full
    collections that walk every live object of the process: they cost as much as building
    the rows. Nothing here makes reference cycles (plain reference counting frees it all);
    whatever cycles the caller's code makes meanwhile are collected after each batch
    (``gc.collect(0)`` only walks the objects allocated since, which is cheap).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class StoreIngestor:
    """Write bundles in batches inside the caller's session (one transaction).

    ``batch_size`` rows or ``max_batch_chars`` characters of text, whichever comes first,
    make a batch: memory stays bounded whatever the input's size and row lengths.
    """

    def __init__(
        self, session: Session, *, batch_size: int = 1000, max_batch_chars: int = 2_000_000
    ):
        if batch_size < 1 or max_batch_chars < 1:
            raise ValueError("batch_size and max_batch_chars must be at least 1")
        self.session = session
        self.batch_size = batch_size
        self.max_batch_chars = max_batch_chars
        self.counts = IngestCounts()
        self.writer = BulkWriter(session)
        self._annotators: dict[str, int] = {}
        self._constitutions: dict[str, int | None] = {}

    @property
    def annotators(self) -> int:
        """Annotators created so far."""
        return self.counts.annotators

    def ingest(self, bundles: Iterable[StoreBundle]) -> IngestCounts:
        batch: list[StoreBundle] = []
        chars = 0
        with _no_cyclic_gc():
            for bundle in bundles:
                batch.append(bundle)
                chars += bundle.text_size()
                if len(batch) >= self.batch_size or chars >= self.max_batch_chars:
                    self.flush(batch)
                    batch, chars = [], 0
                    gc.collect(0)
            if batch:
                self.flush(batch)
        return self.counts

    def flush(self, bundles: list[StoreBundle]) -> IngestCounts:
        """Write one batch; returns (and adds to ``counts``) what it did."""
        counts = IngestCounts(records=len(bundles))
        with _no_cyclic_gc():
            for b in bundles:
                for c in b.constitutions:
                    self._constitutions[c["content_hash"]] = upsert_constitution(
                        self.session, **c
                    ).id
            prompt_ids = self._write_prompts(bundles, counts)
            response_ids = self._write_responses(bundles, prompt_ids, counts)
            pair_ids, new_pairs = self._write_pairs(bundles, prompt_ids, response_ids, counts)
            self._write_judgments(bundles, pair_ids, new_pairs, counts)
        self.counts.add(counts)
        return counts

    # -- links ---------------------------------------------------------------------------

    def _annotator_id(self, info: dict[str, Any] | None) -> int | None:
        if not info or not info.get("username"):
            return None
        name = info["username"]
        if name not in self._annotators:
            existing = self.session.execute(
                select(Annotator.id).where(Annotator.username == name)
            ).scalar_one_or_none()
            annotator = get_or_create_annotator(
                self.session,
                username=name,
                source=info.get("source") or "import",
                external_id=info.get("external_id"),
                is_gold=bool(info.get("is_gold")),
            )
            self.counts.annotators += existing is None
            self._annotators[name] = annotator.id
        return self._annotators[name]

    def _constitution_id(self, content_hash: str) -> int | None:
        """Lineage to a constitution is kept when that version is in the store (looked up
        once per version and ingest: a bundle that brings it sets it)."""
        if not content_hash:
            return None
        if content_hash not in self._constitutions:
            self._constitutions[content_hash] = self.session.execute(
                select(ConstitutionRow.id).where(ConstitutionRow.content_hash == content_hash)
            ).scalar_one_or_none()
        return self._constitutions[content_hash]

    def _insert_keyed(self, table, columns, rows: dict[str, tuple]) -> tuple[int, dict, set]:
        """Insert rows by natural key; returns (new rows, ids of all keys, keys that are new)."""
        inserted, ids = self.writer.insert(table, columns, list(rows.values()), returning=True)
        new = set(ids)
        if len(ids) < len(rows):
            ids.update(self.writer.ids(table, [k for k in rows if k not in ids]))
        return inserted, ids, new

    # -- tables --------------------------------------------------------------------------

    def _write_prompts(self, bundles: list[StoreBundle], counts: IngestCounts) -> dict[str, int]:
        rows: dict[str, tuple] = {}
        for b in bundles:
            h = b.prompt["content_hash"]
            if h not in rows:
                rows[h] = _PROMPT(b.prompt)
        counts.prompts, ids, _ = self._insert_keyed(Prompt.__table__, PROMPT_FIELDS, rows)
        return ids

    def _write_responses(
        self, bundles: list[StoreBundle], prompt_ids: dict[str, int], counts: IngestCounts
    ) -> dict[str, int]:
        constitution_id = self._constitution_id
        rows: dict[str, tuple] = {}  # responses without a parent: written first
        pending: dict[str, tuple[dict[str, Any], int]] = {}  # the others, level by level
        for b in bundles:
            prompt_id = prompt_ids[b.prompt["content_hash"]]
            for r in b.responses:
                h = r["content_hash"]
                if r["parent_hash"]:
                    pending.setdefault(h, (r, prompt_id))
                elif h not in rows:
                    c = r["constitution_hash"]
                    rows[h] = (prompt_id, None, constitution_id(c) if c else None) + _RESPONSE(r)
        ids: dict[str, int] = {}
        while rows or pending:
            if rows:
                inserted, level_ids, _ = self._insert_keyed(
                    Response.__table__, RESPONSE_COLUMNS, rows
                )
                counts.responses += inserted
                ids.update(level_ids)
            # The next level: responses whose parent now has an id.
            rows = {}
            for h, (r, prompt_id) in pending.items():
                parent = r["parent_hash"]
                if parent in ids:
                    rows[h] = (
                        prompt_id,
                        ids[parent],
                        constitution_id(r["constitution_hash"]),
                    ) + _RESPONSE(r)
            for h in rows:
                del pending[h]
            if pending and not rows:
                missing = {r["parent_hash"] for r, _ in pending.values()} - set(ids)
                found = self.writer.ids(Response.__table__, missing)  # stored earlier?
                if not found:
                    raise ValueError(f"responses whose parents are missing: {sorted(missing)[:3]}")
                ids.update(found)
        return ids

    def _write_pairs(
        self,
        bundles: list[StoreBundle],
        prompt_ids: dict[str, int],
        response_ids: dict[str, int],
        counts: IngestCounts,
    ) -> tuple[dict[str, int], set[str]]:
        rows: dict[str, tuple] = {}
        for b in bundles:
            p = b.pair
            h = p["content_hash"]
            if h not in rows:
                rows[h] = (
                    prompt_ids[b.prompt["content_hash"]],
                    response_ids[p["a"]],
                    response_ids[p["b"]],
                    p["source"],
                    h,
                    p.get("job_id"),
                    p["created_at"],
                )
        counts.pairs, ids, new = self._insert_keyed(Pair.__table__, PAIR_COLUMNS, rows)
        return ids, new

    def _write_judgments(
        self,
        bundles: list[StoreBundle],
        pair_ids: dict[str, int],
        new_pairs: set[str],
        counts: IngestCounts,
    ) -> None:
        batch: dict[str, tuple[dict[str, Any], int]] = {}  # key → (row, pair id); last wins
        old_pairs: set[int] = set()
        for b in bundles:
            judgments = b.judgments
            if judgments:
                pk = b.pair["content_hash"]
                pair_id = pair_ids[pk]
                if pk not in new_pairs:
                    old_pairs.add(pair_id)
                for j in judgments:
                    batch[j["key_hash"]] = (j, pair_id)
        kinds = set(map(_KIND, map(_FIRST, batch.values())))
        if len(kinds) > 1 and not old_pairs:
            _refuse_relabels(batch.values())
        existing = self._existing_judgments(old_pairs, batch)

        # The new rows, column by column (map and zip run per row in C).
        items = (
            [v for k, v in batch.items() if k not in existing] if existing else list(batch.values())
        )
        rows = list(map(_FIRST, items))
        n = len(rows)
        annotator_id, constitution_id = self._annotator_id, self._constitution_id
        annotators = (
            [annotator_id(a) if a else None for a in map(_ANNOTATOR, rows)]
            if any(map(_ANNOTATOR, rows))
            else [None] * n
        )
        constitutions = (
            [constitution_id(c) if c else None for c in map(_CONSTITUTION, rows)]
            if any(map(_CONSTITUTION, rows))
            else [None] * n
        )
        values = (
            [list(map(_SECOND, items)), annotators, constitutions, *zip(*map(_JUDGMENT, rows))]
            if n
            else []
        )
        with_history = (
            list(compress(map(_KEY, rows), map(_HISTORY, rows))) if any(map(_HISTORY, rows)) else []
        )
        t = Judgment.__table__
        counts.judgments, ids = self.writer.insert_columns(
            t, JUDGMENT_COLUMNS, values, key="key_hash", returning=bool(with_history)
        )
        revisions = []
        if with_history:
            missing = [k for k in with_history if k not in ids]
            ids.update(self.writer.ids(t, missing, key="key_hash") if missing else {})
            for k in with_history:
                for old in batch[k][0]["history"]:
                    revisions.append((ids[k], *_VALUES(old), old["valid_from"], old["replaced_at"]))
        self.writer.insert(JudgmentRevision.__table__, REVISION_COLUMNS, revisions, key=None)

        changed = []
        for key, cur in existing.items():
            new = batch[key][0]
            if _VALUES(new) == cur[-len(VALUE_FIELDS) :]:
                counts.unchanged += 1
            else:
                changed.append((*_VALUES(new), cur[1]))
        if changed:
            self._update_answers(changed)
            counts.updated += len(changed)

    def _existing_judgments(
        self, pair_ids: set[int], batch: dict[str, tuple[dict[str, Any], int]]
    ) -> dict[str, tuple]:
        """The stored judgments among ``batch``'s keys (only pairs that existed before this
        batch can have any); refuses a batch that would relabel a judge's answers."""
        if not pair_ids:
            return {}
        stored = self.writer.select_in(
            Judgment.__table__, _EXISTING_COLUMNS, "pair_id", sorted(pair_ids)
        )
        _refuse_relabels(batch.values(), stored)
        return {row[0]: row for row in stored if row[0] in batch}

    def _update_answers(self, changed: list[tuple]) -> None:
        """Keep each changed judgment's current answer as a revision, then update it."""
        now = utcnow()
        [replaced_at] = self.writer.converters(JudgmentRevision.__table__, ("replaced_at",))[0](
            [now]
        )
        cols = ", ".join(VALUE_FIELDS)
        self.writer.execute_many(
            f"INSERT INTO judgmentrevision (judgment_id, {cols}, valid_from, replaced_at) "
            f"SELECT id, {cols}, updated_at, {{mark}} FROM judgment WHERE id = {{mark}}",
            [(replaced_at, row[-1]) for row in changed],
        )
        self.writer.update_by_id(
            Judgment.__table__,
            (*VALUE_FIELDS, "updated_at"),
            [(*row[:-1], now, row[-1]) for row in changed],
        )


def _refuse_relabels(
    batch: Iterable[tuple[dict[str, Any], int]], stored: Iterable[tuple] = ()
) -> None:
    """ValueError when one judge identity (pair, judge, order, principle, constitution) would
    hold judgments of both kinds, among the ``stored`` rows (``_EXISTING_COLUMNS``) and the
    batch's (row, pair id) items."""
    kind_of: dict[tuple, str] = {(row[2], *row[4:8]): row[3] for row in stored}
    for j, pair_id in batch:
        kind = kind_of.setdefault(
            (pair_id, j["judge"], j["presentation_order"], j["principle"], j["constitution_hash"]),
            j["kind"],
        )
        if kind != j["kind"]:
            raise ValueError(
                f"judge {j['judge']!r} already has {kind} judgments on these pairs; storing "
                f"{j['kind']} ones under the same name would relabel them (import under "
                "another source name)"
            )


class PreferenceIngestor:
    """Write :class:`PreferenceRecord` s (through :class:`StoreIngestor`) inside the caller's
    session; responses, pairs and judgments record ``job_id``."""

    def __init__(
        self,
        session: Session,
        *,
        job_id: int | None = None,
        batch_size: int = 5000,
        max_batch_chars: int = 2_000_000,
    ):
        self.job_id = job_id
        self.store = StoreIngestor(session, batch_size=batch_size, max_batch_chars=max_batch_chars)

    @property
    def counts(self) -> IngestCounts:
        return self.store.counts

    def bundles(self, records: Iterable[PreferenceRecord]) -> Iterator[StoreBundle]:
        now = utcnow()
        for i, rec in enumerate(records, start=1):
            yield bundle_from_preference(rec, job_id=self.job_id, now=now)
            if i % self.store.batch_size == 0:
                now = utcnow()  # one timestamp object per batch: converted once on write

    def ingest(self, records: Iterable[PreferenceRecord]) -> IngestCounts:
        return self.store.ingest(self.bundles(records))
